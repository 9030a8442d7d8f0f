"""``trainlab style``: neural style transfer (Gatys, Ecker & Bethge, 2016) with a frozen VGG feature net.

Not a training study: one image's pixels are optimized. :mod:`~trainlab.style.features` (the named VGG layers, built
from weights), :mod:`~trainlab.style.losses` (Gram, content, style, total variation),
:mod:`~trainlab.style.optimize` (:func:`~trainlab.style.optimize.stylize`), :mod:`~trainlab.style.output` (the
output folder and its report), :mod:`~trainlab.style.demo` (scikit-image's pictures) and :mod:`~trainlab.style.cli`.
"""
