"""Write data/train.jsonl and data/valid.jsonl of the Aquila diagnostics example from the tables below.

Each diagnosis has eleven hand-written ticket descriptions (symptoms as a kitchen or a field
technician would report them); some tickets quote the error code, some don't, one per diagnosis gives
the code only. The fourth and ninth ticket of each diagnosis go to the validation file, the rest to
training. Models and sites rotate deterministically: running it twice writes the same bytes.

    python examples/maintenance_diagnostics/make_data.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from catalog import FAULTS, MODELS, PRODUCT_LINE

SYSTEM = (
    f"You are a service assistant for {PRODUCT_LINE} commercial dishwashers (D40 undercounter, H60 hood-type, "
    "C90 conveyor). Read the service ticket and reply with the single most likely diagnosis, one of: "
    + ", ".join(FAULTS)
    + ". Reply with the diagnosis only."
)

# Ticket texts per diagnosis. "{code}" marks tickets that quote the error code.
TICKETS: dict[str, list[str]] = {
    "inlet valve blocked": [
        "Display shows {code} right at the start of the cycle and the tank stays almost empty.",
        "The machine hums at the start but no water comes in; the supply tap is fully open.",
        "Fill takes forever, barely a trickle enters the tank, and the cycle then aborts.",
        "After the mains water was shut off for works yesterday, the unit will not fill any more.",
        "Error {code}. We checked the water supply pressure and it is fine.",
        "Tank never reaches level; we can hear a click from the valve but no water flow.",
        "Heavy limescale area; the unit fills more slowly every week and now stops with {code}.",
        "Wash water level is low and dishes come out dirty; fill time exceeds four minutes.",
        "Technician found debris in the mesh at the water connection; unit still will not fill.",
        "Unit stops during fill with {code}; it happened three times this morning.",
        "Customer only read out code {code} over the phone, nothing else.",
    ],
    "drain pump failure": [
        "Water stays in the tank at the end of the cycle and {code} appears.",
        "No humming from the drain side when it should empty; the tank is full of dirty water.",
        "The machine will not empty at all, even when we start a drain-only program.",
        "Display reads {code} and the unit is full of water after the last rack.",
        "Burning smell near the bottom right and the water is not pumped out any more.",
        "Drain hose is clear and not kinked, yet the tank does not empty.",
        "Loud grinding noise at the end of each cycle, then the water just sits there.",
        "Error {code} since a piece of broken glass went down the tank yesterday.",
        "Standing water after every cycle; the filter was cleaned and it changed nothing.",
        "The conveyor stops with {code}; draining never starts.",
        "Only the code {code} was logged by the remote monitoring, no details from site.",
    ],
    "drain filter clogged": [
        "Water drains but very slowly, and the unit shows {code}.",
        "Food scraps and bits of paper collect at the bottom; the tank empties only halfway.",
        "Staff stopped cleaning the strainer baskets weekly; now draining takes ages.",
        "Slow emptying with a dirty film left in the tank; code {code}.",
        "Rinse results are poor and greasy, and the water level falls sluggishly at the end.",
        "The tank empties eventually, but a cycle takes ten minutes longer than it used to.",
        "Lots of rice and lemon pips in the sump; the machine throws {code} now and then.",
        "Drains fine after the filter was rinsed yesterday, but today it is slow again.",
        "Grey water remains for minutes after the drain phase before it finally goes.",
        "Warning {code} at the end of the lunch service, dishes a bit gritty.",
        "Code {code} reported by the night shift, no further description.",
    ],
    "heater element failure": [
        "Dishes come out lukewarm and the panel shows {code}.",
        "The wash water never gets hot; the cycle waits and waits and then stops.",
        "Circuit breaker trips as soon as the machine starts to heat.",
        "Error {code}, wash temperature stuck around 30 degrees.",
        "Plates are greasy because the water is cold; the temperature reading itself looks plausible.",
        "Heating takes more than 20 minutes and then gives up with {code}.",
        "Earth leakage protection trips during warm-up every morning.",
        "Water is cold to the touch although the display shows a realistic 28 °C.",
        "After a power surge last night the tank does not warm up any more.",
        "Unit shows {code} and the tank heating contactor clicks but nothing heats.",
        "Only {code} on the display according to the front-of-house manager.",
    ],
    "temperature sensor fault": [
        "The display shows 150 °C in a cold tank and the unit stops with {code}.",
        "Temperature reading jumps between 10 and 90 degrees within seconds.",
        "Water is clearly hot, too hot to touch, yet the panel claims it is 5 °C.",
        "Code {code}; the displayed temperature is dashes instead of a number.",
        "Machine overheats the water and steams heavily because it thinks it is still cold.",
        "Temperature on the screen never changes from 0 °C, whatever the machine does.",
        "After replacing the tank gasket, temperature readings became erratic and {code} shows.",
        "The heater seems to work but the reading is obviously wrong; water is hot.",
        "Sporadic {code} when the machine is moved or vibrates.",
        "Rinse temperature shows minus 40 °C at the start of every cycle.",
        "Remote log lists {code} several times, nothing else known.",
    ],
    "door sensor fault": [
        "The machine will not start; it says the door is open although it is closed, code {code}.",
        "Cycle stops in the middle as if the hood were lifted, but nobody touched it.",
        "The door-open symbol stays on the display even with the door firmly shut.",
        "Error {code} after someone slammed the door hard.",
        "Hood is down but the start button does nothing and the door light blinks.",
        "Intermittent stops during washing; display briefly shows door open.",
        "After cleaning with the hose the machine keeps reporting the door open, {code}.",
        "Unit starts washing while the door is still open, which is a safety risk.",
        "The hood latch was replaced, and since then the cycle will not start.",
        "{code} on the display whenever the hood is closed slowly.",
        "Kitchen porter noted {code} on the job sheet, no other details.",
    ],
    "wash pump failure": [
        "Dishes come out dirty, the water is hot, but there is no sound of washing; {code}.",
        "The wash motor hums but nothing sprays; water level is normal.",
        "Loud screeching from the motor during the wash phase and weak spray.",
        "Code {code} and the spray is very weak even though the tank is full.",
        "Wash phase seems silent; rinse works fine at the end of the cycle.",
        "Motor gets very hot and the thermal cut-out trips halfway through washing.",
        "Water pressure in the wash arms drops to nothing after a few minutes, {code}.",
        "Water leaking from the shaft seal of the motor under the tank and the spray is weak.",
        "We hear the fill and the heating but never the circulation; dishes stay soiled.",
        "Conveyor runs, tank is full and hot, no spray from the wash zone; {code}.",
        "The code {code} was photographed on the display, nothing else reported.",
    ],
    "spray arm blocked": [
        "The lower wash arm does not turn any more and {code} appears.",
        "Only the upper rack gets clean; the lower rack stays dirty.",
        "Nozzles are full of lemon pips and the arm does not rotate.",
        "Error {code}; the arm is stuck against a tall tray in the basket.",
        "Stripes of dirt stay on the plates, some jets clearly not spraying.",
        "The wash arm wobbles and stops after a few turns; spray is otherwise strong.",
        "A cutlery basket fell down and since then one arm does not move, code {code}.",
        "Water sprays strongly but always in the same direction; the arm is not spinning.",
        "Upper arm end cap missing and the arm does not rotate properly.",
        "Intermittent {code} after the arms were refitted following cleaning.",
        "Code {code} in the fault memory, site gave no description.",
    ],
    "water leak in base": [
        "Puddle under the machine and the display shows {code}.",
        "The unit stops and pumps out by itself; water found in the base tray.",
        "Water drips from underneath the machine after every cycle.",
        "Code {code}; the floor around the machine is wet.",
        "After a hose was replaced, the machine stops mid-cycle and the base is full of water.",
        "Safety shutdown with the drain pump running continuously; wet floor below.",
        "Cracked tank seam found by the cleaner; water appears under the unit, {code}.",
        "The base pan holds about a centimetre of water and the machine will not start.",
        "Water on the floor only when the machine is running; tank level fine.",
        "{code} after someone used the wrong foaming detergent and foam overflowed.",
        "Fault log only shows {code}, reported by email.",
    ],
    "detergent dispenser fault": [
        "Glasses are clean but dull and greasy; the detergent drum is still full after a week, {code}.",
        "Detergent consumption is zero according to the log, even though the canister is full.",
        "The dosing tube is full of air and the warning {code} comes on.",
        "Dishes are not clean although water and temperature are fine; no detergent gets in.",
        "The peristaltic squeeze tube is cracked and nothing is dosed.",
        "Error {code} after the detergent supplier changed the canister.",
        "Detergent leaks from the dosing line onto the floor behind the machine.",
        "Wash water smells of nothing and has no foam at all; the detergent level never drops.",
        "Crystallised detergent blocks the suction lance of the canister.",
        "{code} comes on at every start; the canister is new and full.",
        "Technician wrote only {code} on the call-out form.",
    ],
    "control board fault": [
        "Display is blank except for a flashing light and the unit shows {code}.",
        "Buttons do not respond and the screen freezes randomly during a cycle.",
        "The machine starts cycles by itself and the display shows garbage characters.",
        "Error {code} after a thunderstorm last night; nothing responds.",
        "All settings reset to factory defaults every morning.",
        "Relays click randomly even when the machine is idle.",
        "Display and machine lose contact; {code} appears and everything stops.",
        "Burnt smell from behind the control panel and intermittent total shutdowns.",
        "Program selection is ignored; it always runs the same program whatever we pick.",
        "{code} whenever the kitchen's combi oven next to it switches on.",
        "Code {code} reported via the service hotline without details.",
    ],
    "water softener fault": [
        "White limescale film on all glasses despite salt in the container; {code}.",
        "Salt is not being used up at all; the level has not changed in a month.",
        "Regeneration never seems to happen and glasses are spotted white.",
        "Error {code}; the brine container is full of undissolved salt.",
        "Heavy scale building up on the heating element within weeks.",
        "Water hardness at the outlet measures the same as the incoming mains water.",
        "Salt container overflowing with salty water and {code} at the end of regeneration.",
        "Since the new salt delivery the glasses come out cloudy and rough.",
        "Limescale on the tank walls although the kitchen refills salt every week.",
        "{code} appears at night during the regeneration program.",
        "Only {code} was noted in the shift book.",
    ],
}
CODE_FRAMES = ["", "{model}: ", "{site}, {model}. ", "{site}: "]
SITES = [
    "Hotel kitchen",
    "Hospital canteen",
    "School cafeteria",
    "Pizzeria",
    "Staff restaurant",
    "Care home",
    "Catering company",
    "University refectory",
    "Airport lounge",
    "Bistro",
    "Cruise ship galley",
]
HELD_OUT = (3, 8)  # the fourth and ninth ticket of each diagnosis


def row(diagnosis: str, i: int, n: int, text: str) -> dict:
    subsystem, code, _ = FAULTS[diagnosis]
    model = list(MODELS)[(i + n) % len(MODELS)]
    for word, named in (("conveyor", "C90"), ("hood", "H60")):  # the ticket names the machine type
        model = named if word in text.lower() else model
    frame = CODE_FRAMES[(i + 2 * n) % len(CODE_FRAMES)]
    ticket = frame.format(model=f"{PRODUCT_LINE} {model}", site=SITES[(i * 5 + n) % len(SITES)]) + text
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": ticket.format(code=code)},
        ],
        "diagnosis": diagnosis,
        "subsystem": subsystem,
        "error_code": code if "{code}" in text else None,
        "model": f"{PRODUCT_LINE} {model}",
    }


def build() -> tuple[list[dict], list[dict]]:
    train: list[dict] = []
    valid: list[dict] = []
    for n, (diagnosis, texts) in enumerate(TICKETS.items()):
        for i, text in enumerate(texts):
            (valid if i in HELD_OUT else train).append(row(diagnosis, i, n, text))
    return train, valid


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    data = Path(__file__).parent / "data"
    data.mkdir(exist_ok=True)
    train, valid = build()
    write_jsonl(data / "train.jsonl", train)
    write_jsonl(data / "valid.jsonl", valid)
    print(f"wrote {len(train)} training and {len(valid)} validation prompts to {data}")


if __name__ == "__main__":
    main()
