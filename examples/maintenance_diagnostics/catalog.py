"""The Aquila product line's fault catalogue: diagnoses, subsystems and error codes (made up).

One table feeds the README, the dataset generator and, copied into the reward function's zip, the
reward itself (reward/lambda_function.py carries its own copy so that the Lambda stays one file; the
tests check both agree).
"""

from __future__ import annotations

PRODUCT_LINE = "Aquila"
MODELS = {
    "D40": "undercounter dishwasher",
    "H60": "hood-type dishwasher",
    "C90": "conveyor dishwasher",
}

# diagnosis -> (subsystem, error code, what the controller checks)
FAULTS: dict[str, tuple[str, str, str]] = {
    "inlet valve blocked": ("water inlet", "E11", "fill timeout: tank not at level after 4 minutes"),
    "drain pump failure": ("drainage", "E21", "drain timeout: level did not fall within 2 minutes"),
    "drain filter clogged": ("drainage", "E24", "slow drain: level fell, but under 30% of the expected rate"),
    "heater element failure": ("heating", "H03", "heating timeout: wash water below 55 °C after 20 minutes"),
    "temperature sensor fault": ("heating", "H07", "temperature probe reading out of range (open or short)"),
    "door sensor fault": ("door", "D01", "door state implausible: reads open while the cycle runs"),
    "wash pump failure": ("wash circulation", "E27", "circulation pressure low with the wash pump on"),
    "spray arm blocked": ("wash circulation", "E31", "spray arm rotation not detected by the hall sensor"),
    "water leak in base": ("leak protection", "L15", "float switch in the base tray triggered"),
    "detergent dispenser fault": ("dosing", "P05", "detergent dosing pump: no flow detected"),
    "control board fault": ("electronics", "C40", "communication lost between display and main board"),
    "water softener fault": ("water treatment", "S09", "softener regeneration failed (brine not drawn)"),
}
