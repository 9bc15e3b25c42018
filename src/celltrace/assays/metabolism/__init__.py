"""Cellular energy metabolism ("cell charging"): Seahorse XF exports and plate-reader assays.

Pure code, no Django: :mod:`.seahorse` reads Agilent Wave exports, :mod:`.analysis` computes the
Mito Stress Test, Real-Time ATP Rate and Glycolytic Rate parameters, :mod:`.platereader` handles
luminescence/fluorescence plate assays with 4PL/5PL standard curves, :mod:`.charts` draws SVG
charts and :mod:`.cli` is the ``metabolism analyse`` command core. See docs/metabolism.md.

Everything here reports measurements; nothing claims a health effect.
"""
