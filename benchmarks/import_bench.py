"""Import speed and memory: 100,000 synthetic support conversations (about 50 MB of JSONL).

Runs the real CLI (`python -m builder.data import`) in a child process, with language detection,
PII redaction and deduplication on, and reports conversations per second and the child's peak RSS.
The input is generated (seeded) in a temporary folder and deleted afterwards.

    python -m benchmarks.import_bench [--n 100000] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report_json

GOAL_SECONDS = 60.0  # for 100,000 conversations on 2 cores

_EN_USER = [
    "Hi, my order {order} has not arrived yet and the tracking page has not changed since {day}.",
    "Hello, I was charged twice for order {order}. Can you check the payment and refund one of them?",
    "The {item} I received is broken, the box was damaged. What can I do to get a replacement?",
    "Can I change the delivery address of order {order}? I am moving to {city} next week.",
    "I want to return the {item}, it is smaller than the picture suggested. How does the return work?",
    "My email is {email} and I never got the invoice for {order}, could you send it again please?",
]
_EN_AGENT = [
    "Thanks for writing. I checked order {order}: the carrier scanned it in {city} this morning, so it should "
    "reach you within {n} working days. If not, reply here and we will resend it.",
    "Sorry about that. I can see both charges for {order}; I have refunded the second one, it takes {n} days "
    "to show on your statement.",
    "I am sorry the {item} arrived damaged. Please send a photo of the item and the box, and I will arrange a "
    "replacement at no cost.",
    "Yes, as long as it has not shipped. I have updated the address of {order} to {city}; you will get a new "
    "confirmation email shortly.",
    "Of course. You have {n} days to return it: print the label from your account, pack the {item} and drop it "
    "at any collection point.",
]
_ES_USER = [
    "Hola, mi pedido {order} no ha llegado y el seguimiento no se mueve desde el {day}.",
    "Buenas, me habéis cobrado dos veces el pedido {order}. ¿Podéis revisar el pago y devolver uno?",
    "El {item} que recibí está roto, la caja venía aplastada. ¿Qué puedo hacer para que me lo cambien?",
    "¿Puedo cambiar la dirección de entrega del pedido {order}? Me mudo a {city} la semana que viene.",
    "Quiero devolver el {item}, es más pequeño de lo que parecía en la foto. ¿Cómo funciona la devolución?",
    "Mi teléfono es {phone} y no me ha llegado la factura del pedido {order}, ¿me la podéis reenviar?",
]
_ES_AGENT = [
    "Gracias por escribirnos. He revisado el pedido {order}: la empresa de transporte lo escaneó en {city} esta "
    "mañana, así que debería llegar en {n} días laborables.",
    "Lo siento mucho. Veo los dos cargos del pedido {order}; ya he devuelto el segundo, tardará {n} días en "
    "aparecer en tu cuenta.",
    "Siento que el {item} haya llegado dañado. Mándanos una foto del producto y de la caja y te enviamos uno "
    "nuevo sin coste.",
    "Sí, mientras no haya salido del almacén. He cambiado la dirección del pedido {order} a {city}; te llegará "
    "un correo de confirmación.",
    "Claro. Tienes {n} días para devolverlo: imprime la etiqueta desde tu cuenta, empaqueta el {item} y déjalo "
    "en cualquier punto de recogida.",
]
_ITEMS = ["lamp", "planter", "hammock", "garden chair", "blanket", "kettle", "umbrella", "rug", "mirror", "shelf"]
_CITIES = ["Madrid", "Lisboa", "Sevilla", "Valencia", "Bilbao", "Porto", "Monterrey", "Guadalajara", "Zaragoza"]


_EN_OPEN = ["Hi,", "Hello,", "Good morning,", "Hey there,", "Hi team,", "", "Dear support,", "Good evening,"]
_EN_MORE = [
    "I need it before the weekend because it is a gift.",
    "This is the second time this happens with your shop.",
    "I already tried calling but nobody answered the phone.",
    "The website says it was delivered but I was at home all day.",
    "My neighbour ordered the same thing and got it in two days.",
    "I paid with a card and the bank shows the payment as completed.",
    "",
    "",
]
_EN_CLOSE = ["Thanks.", "Thank you!", "Regards, {name}", "Cheers", "", "Waiting for your answer.", "{name}"]
_ES_OPEN = ["Hola,", "Buenas,", "Buenos días,", "Buenas tardes,", "", "Hola equipo,", "Saludos,", "Qué tal,"]
_ES_MORE = [
    "Lo necesito antes del fin de semana porque es un regalo.",
    "Es la segunda vez que me pasa con vuestra tienda.",
    "Ya he intentado llamar pero nadie coge el teléfono.",
    "La web dice que se entregó pero estuve en casa todo el día.",
    "Mi vecina pidió lo mismo y le llegó en dos días.",
    "Pagué con tarjeta y en el banco el pago aparece como completado.",
    "",
    "",
]
_ES_CLOSE = ["Gracias.", "¡Muchas gracias!", "Un saludo, {name}", "Saludos", "", "Quedo a la espera.", "{name}"]
_NAMES = ["Sofia", "Lucas", "Marta", "Diego", "Ana", "John", "Emma", "Carlos", "Lucía", "Pedro", "Julia", "Omar"]


def _customer(spanish: bool, rng: random.Random) -> str:
    opens, users, more, close = (
        (_ES_OPEN, _ES_USER, _ES_MORE, _ES_CLOSE) if spanish else (_EN_OPEN, _EN_USER, _EN_MORE, _EN_CLOSE)
    )
    parts = [rng.choice(opens), rng.choice(users), rng.choice(more), rng.choice(close)]
    return _fill(" ".join(p for p in parts if p), rng)


def _agent(spanish: bool, rng: random.Random) -> str:
    agents = _ES_AGENT if spanish else _EN_AGENT
    first, second = rng.sample(agents, 2)
    greeting = ("Hola {name}, " if spanish else "Hi {name}, ") if rng.random() < 0.7 else ""
    return _fill(greeting + first + (" " + second if rng.random() < 0.5 else ""), rng)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        order=f"NV-{rng.randint(100000, 999999)}",
        day=f"{rng.randint(1, 28)}/{rng.randint(1, 12)}",
        item=rng.choice(_ITEMS),
        city=rng.choice(_CITIES),
        n=rng.randint(2, 14),
        email=f"cliente{rng.randint(1, 99999)}@example.com",
        name=rng.choice(_NAMES),
        phone=f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
    )


def write_synthetic(path: Path, n: int, seed: int = 42) -> int:
    """Write ``n`` OpenAI-chat JSONL conversations, half English and half Spanish; return the size in bytes."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            spanish = i % 2 == 1
            messages = []
            for _ in range(rng.randint(1, 2)):
                messages.append({"role": "user", "content": _customer(spanish, rng)})
                messages.append({"role": "assistant", "content": _agent(spanish, rng)})
            f.write(json.dumps({"messages": messages, "id": f"c{i}"}, ensure_ascii=False) + "\n")
    return path.stat().st_size


def run(n_conversations: int = 100_000, workdir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        source = folder / "conversations.jsonl"
        size = write_synthetic(source, n_conversations)
        out = folder / "out.jsonl"
        command = [sys.executable, "-m", "builder.data", "import", str(source), "--out", str(out)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = before.ru_utime + before.ru_stime
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"import failed ({proc.returncode}): {proc.stderr[-2000:]}")
        report = json.loads((folder / "out.report.json").read_text(encoding="utf-8"))
    # ru_maxrss of the children we waited for (kilobytes on Linux): the import process alone.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024
    # CPU seconds of the import process: on a shared machine wall time also counts other people's work.
    cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_before
    return {
        "conversations": n_conversations,
        "input_mb": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "conversations_per_s": round(n_conversations / seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "cpu_seconds": round(cpu_seconds, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "kept": report["kept"],
        "duplicates": report["duplicates"],
        "languages": report["languages"],
        "language_detection": report["language_detection"],
        "redactions": report["redactions"],
        "goal_seconds_for_100k": GOAL_SECONDS,
        "meets_goal": seconds * 100_000 / n_conversations <= GOAL_SECONDS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = run(args.n)
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
