"""Every key of ``Network.meta``, defined once: who writes it, who reads it, what it holds.

``Network.meta`` is a JSON-able dict saved with the weights (:mod:`memcap.io.npz`). Code writes and
reads it through these constants, never through string literals, so a key has one spelling and this
table says who depends on it. A leaf: imports nothing from memcap.

========================  ===========================================  =====================================
key                       written by                                   read by
========================  ===========================================  =====================================
``method``                every construction (registry name)           io.torch / io.onnx messages, cli info
``activation``            constructions (``Activation.name``), train   cli info (display)
``exact_only``            park-sublinear, park-thm3 (weights > 53 bits) io.torch (refuses a float export)
``robust``                yu-robust, yu-lipschitz, yu2024.hard         certify.robust.promised_robustness
                          (:class:`RobustClaim`)                       (cli robust / export)
``lipschitz``             yu-lipschitz, yu2024.hard                    certify.lipschitz.lipschitz_report
                          (:class:`LipschitzClaim`)
``certificate``           api.construct (``Certificate.to_json()``)    cli info
``verification``          api.construct (:class:`VerificationMeta`)    cli info, io.torch (float32/64 claim)
``precision_certificate`` select.choose_method                         cli info (display)
``data``                  cli construct / cli train (the data source)  cli info ("built on")
``memorizes``             cli train (certified memorization)           tests, users
``trained``, ``source``   memcap.train (a trained, not built, network) cli info (display)
``info``                  nobody (files of older versions)             certify.robust.promised_robustness
``task``                  api.construct (``dataset_meta``)             cli verify / info
``class_names``           api.construct (``dataset_meta``)             cli verify / info (names outputs)
``label_column``          api.construct (``dataset_meta``)             cli info
``weight_bits``           vardi-optimal, vardi-depth                   api.lower_bounds, io.torch (refusal)
``float32_weights``       adaptive                                     users (float32 storage is lossless)
========================  ===========================================  =====================================

memcap.train also stores its run's settings under their own names (``regime``, ``width``, ``eps``,
``lr_w``, ``lr_v``, ``steps``, ``final_loss``, ``seed``): see :data:`TRAIN_KEYS`.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["METHOD", "ACTIVATION", "EXACT_ONLY", "ROBUST", "LIPSCHITZ", "CERTIFICATE", "VERIFICATION",
           "PRECISION_CERTIFICATE", "DATA", "MEMORIZES", "TRAINED", "SOURCE", "INFO", "TASK", "CLASS_NAMES",
           "LABEL_COLUMN", "WEIGHT_BITS", "FLOAT32_WEIGHTS", "TRAIN_KEYS",
           "NetworkMeta", "RobustClaim", "LipschitzClaim", "VerificationMeta", "KEYS"]

METHOD = "method"
ACTIVATION = "activation"
EXACT_ONLY = "exact_only"
ROBUST = "robust"
LIPSCHITZ = "lipschitz"
CERTIFICATE = "certificate"
VERIFICATION = "verification"
PRECISION_CERTIFICATE = "precision_certificate"
DATA = "data"
MEMORIZES = "memorizes"
TRAINED = "trained"
SOURCE = "source"
INFO = "info"
TASK = "task"
CLASS_NAMES = "class_names"     # one name per output, in output order (memcap.api.dataset_meta)
LABEL_COLUMN = "label_column"   # the CSV column the labels came from
WEIGHT_BITS = "weight_bits"     # vardi-*: the largest bits of a weight (exact integers)
FLOAT32_WEIGHTS = "float32_weights"  # adaptive: every weight is a float32 number
#: the run settings memcap.train copies into the meta of a trained network
TRAIN_KEYS = ("regime", "width", "activation", "eps", "lr_w", "lr_v", "steps", "final_loss", "seed")


class RobustClaim(TypedDict, total=False):
    """``meta["robust"]``: the robustness a construction promises."""

    radius: float        # the ball radius μ
    norm: str            # memcap.norms.norm_name: "inf", "1", "2", "3", ...
    strict: bool         # margin > 0 on the closed ball (False: open ball)
    margin: float
    radius_fraction_of_half_separation: float
    sup_radius: float    # yu-lipschitz: the supremum of the radii covered
    open_ball: bool


class LipschitzClaim(TypedDict, total=False):
    """``meta["lipschitz"]``: the Lipschitz constant a construction promises."""

    norm: str
    value: float
    exact: str           # the exact rational, as text
    optimal: float
    is_optimal: bool
    of: str              # which function the constant bounds
    source: str


class VerificationMeta(TypedDict, total=False):
    """``meta["verification"]``: what memcap.construct's certified check found."""

    memorized: bool
    certified: bool
    tolerance: float | None
    worst_error: float | None
    min_margin: float | None
    bits_needed: int | None
    float64_memorizes: bool
    float32_memorizes: bool


class NetworkMeta(TypedDict, total=False):
    """The documented shape of ``Network.meta`` (see the module table for writers and readers)."""

    method: str
    activation: str
    exact_only: bool
    robust: RobustClaim
    lipschitz: LipschitzClaim
    certificate: dict[str, Any]
    verification: VerificationMeta
    precision_certificate: dict[str, Any]
    data: str
    memorizes: bool
    trained: bool
    source: str
    info: dict[str, Any]
    task: str
    class_names: list[str]
    label_column: str
    weight_bits: int
    float32_weights: bool


#: every top-level key (the test checks it against NetworkMeta and the module table)
KEYS = (METHOD, ACTIVATION, EXACT_ONLY, ROBUST, LIPSCHITZ, CERTIFICATE, VERIFICATION, PRECISION_CERTIFICATE,
        DATA, MEMORIZES, TRAINED, SOURCE, INFO, TASK, CLASS_NAMES, LABEL_COLUMN, WEIGHT_BITS, FLOAT32_WEIGHTS)
