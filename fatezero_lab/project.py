"""Where the project lives: the one definition of its GitHub repository, read by the package and by the scripts
(``scripts/notebooks.py`` writes it into each notebook's Colab badge and install cell). No imports: a script may load
this file on its own, without importing the package (torch)."""

REPO = "fatezero-lab/fatezero-lab"  # owner/name on GitHub
INSTALL_URL = f"git+https://github.com/{REPO}"  # what the notebooks' Colab install cell gives pip


def colab_url(notebook: str) -> str:
    """The Colab link of ``notebooks/<notebook>.ipynb`` on the main branch."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{notebook}.ipynb"


def colab_badge(notebook: str) -> str:
    """The 'Open In Colab' badge of a notebook, in Markdown."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"
