"""IPython startup file for the test suite's notebook runs: a learner moving every widget, once.

``scripts/test.sh`` copies this file into the notebook kernels' IPython profile (``$IPYTHONDIR/profile_default/
startup/``). It wraps ``ipywidgets.interact``: after the widget is displayed as usual, the callback is called again
for every other value of each control, one control at a time around the initial values (dropdowns, selection
sliders, toggles: every option; numeric sliders: their minimum and maximum; checkboxes: the other state; free text:
left alone) — directly, not through the widget, so that an exception fails the cell (ipywidgets would only print it
in the widget's output area). The extra calls' figures and prints are captured and dropped. ``interact_manual``
(a button starts the work) is left alone. Not part of the library: learners' kernels never load it.
"""

import ipywidgets

_interact = ipywidgets.interact


def _alternatives(control) -> list:
    """Every value a learner can give ``control`` besides its current one."""
    values = getattr(control, "_options_values", None)  # Dropdown, SelectionSlider, ToggleButtons, RadioButtons, ...
    if values is not None:
        return [v for v in values if v != control.value]
    if isinstance(control, ipywidgets.Checkbox):
        return [not control.value]
    if hasattr(control, "min") and hasattr(control, "max"):  # IntSlider, FloatSlider, BoundedIntText, ...
        return [v for v in dict.fromkeys((control.min, control.max)) if v != control.value]
    return []  # free text


def _swept(*args, **kwargs):
    result = _interact(*args, **kwargs)
    fn = args[0] if args and callable(args[0]) else None
    widget = getattr(result, "widget", None)
    if fn is None or widget is None:  # the decorator form: nothing displayed yet
        return result
    from IPython.utils.capture import capture_output

    base = dict(widget.kwargs)  # the values the widget started with
    for control in widget.kwargs_widgets:
        for value in _alternatives(control):
            with capture_output():
                fn(**{**base, control._kwarg: value})
            try:
                import matplotlib.pyplot as plt

                plt.close("all")
            except ImportError:
                pass
    return result


ipywidgets.interact = _swept
ipywidgets.widgets.interact = _swept
