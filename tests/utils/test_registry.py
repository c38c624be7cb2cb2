"""The generic name registry: filled by decorator or `add`, unknown names list the known."""

import pytest

from audiocraft.utils.registry import Registry, UnknownNameError


def test_decorator_and_add_fill_the_registry():
    shapes: Registry[type] = Registry("shape")

    @shapes.register("square")
    class Square:
        pass

    shapes.add("circle", dict)
    assert shapes.get("square") is Square and shapes["circle"] is dict
    assert "square" in shapes and "triangle" not in shapes and 3 not in shapes
    assert list(shapes) == ["circle", "square"] == shapes.names() and len(shapes) == 2
    shapes.remove("circle")
    assert shapes.names() == ["square"]


def test_unknown_name_lists_known_names_sorted_and_suggests():
    shapes: Registry[int] = Registry("shape")
    for name, value in (("square", 1), ("circle", 2), ("ellipse", 3)):
        shapes.add(name, value)
    with pytest.raises(UnknownNameError) as err:
        shapes.get("sqare", where="model.shape")
    message = str(err.value)
    assert "Unknown shape 'sqare'" in message and "`model.shape`" in message
    assert "['circle', 'ellipse', 'square']" in message and "Did you mean 'square'?" in message
    assert isinstance(err.value, ValueError) and err.value.known == ["circle", "ellipse", "square"]
    with pytest.raises(UnknownNameError, match="Unknown shape 'zzz'") as err:
        shapes["zzz"]
    assert "Did you mean" not in str(err.value)
    with pytest.raises(UnknownNameError, match="Unknown shape None"):
        shapes.get(None)  # type: ignore[arg-type]


def test_registering_a_name_twice_needs_replace():
    shapes: Registry[int] = Registry("shape")
    shapes.add("square", 1)
    with pytest.raises(ValueError, match="'square' is already registered"):
        shapes.add("square", 2)
    shapes.add("square", 2, replace=True)
    assert shapes["square"] == 2
    with pytest.raises(ValueError, match="non-empty string"):
        shapes.add("", 3)
