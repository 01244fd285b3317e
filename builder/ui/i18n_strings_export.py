"""The texts of the Export tab, in English and Spanish.

``builder.ui.i18n`` merges this table with the others; a key belongs to one table only (a test checks).
"""

from __future__ import annotations

# key: (English, Spanish)
EXPORT_STRINGS: dict[str, tuple[str, str]] = {
    # export
    "export_intro": (
        "Take the run with you: the adapter, a merged model folder, or the cleaned data.",
        "Llévate la ejecución: el adaptador, una carpeta con el modelo fusionado o los datos limpios.",
    ),
    "zip_adapter": ("Download the adapter (zip)", "Descargar el adaptador (zip)"),
    "merge": ("Merge into the base model and save", "Fusionar con el modelo base y guardar"),
    "merge_dir": ("Folder for the merged model", "Carpeta para el modelo fusionado"),
    "export_data": ("Export cleaned data (OpenAI chat JSONL)", "Exportar datos limpios (JSONL de chat OpenAI)"),
    "download": ("Download", "Descarga"),
    "merge_stopping": (
        "Stopping the merge of `{run}`: its folder keeps what it had.",
        "Deteniendo la fusión de `{run}`: su carpeta conserva lo que tenía.",
    ),
    "no_merge": (
        "No merge of this run is queued or running.",
        "No hay ninguna fusión de esta ejecución en cola ni en curso.",
    ),
    "merged_to": ("Merged model saved in `{path}`.", "Modelo fusionado guardado en `{path}`."),
    "exported": ("{n} examples written to `{path}`.", "{n} ejemplos escritos en `{path}`."),
    "refused": ("Not started:", "No se inició:"),
    "gguf_intro": (
        "### Run it outside the tool\nOne GGUF file for llama.cpp, LM Studio and Ollama (with its Modelfile), "
        "or the `vllm serve` command for a GPU server. q8_0 is nearly lossless; q4_0/q4_1 are the smallest.",
        "### Úsalo fuera de la herramienta\nUn archivo GGUF para llama.cpp, LM Studio y Ollama (con su Modelfile), "
        "o el comando `vllm serve` para un servidor con GPU. q8_0 casi no pierde calidad; q4_0/q4_1 ocupan menos.",
    ),
    "gguf_quant": ("GGUF quantization", "Cuantización GGUF"),
    "gguf_export": ("Export GGUF + Ollama Modelfile", "Exportar GGUF + Modelfile de Ollama"),
    "gguf_done": (
        "GGUF written: `{path}` ({mb} MB, {quant}).",
        "GGUF escrito: `{path}` ({mb} MB, {quant}).",
    ),
    "gguf_stopping": (
        "Stopping the GGUF export of `{run}`: no half-written file is left.",
        "Deteniendo la exportación GGUF de `{run}`: no queda ningún archivo a medio escribir.",
    ),
    "no_gguf": (
        "No GGUF export of this run is queued or running.",
        "No hay ninguna exportación GGUF de esta ejecución en cola ni en curso.",
    ),
    "gguf_ollama": (
        "Ollama, in the folder `{folder}`:",
        "Ollama, en la carpeta `{folder}`:",
    ),
    "gguf_llamacpp": ("llama.cpp server:", "Servidor de llama.cpp:"),
    "gguf_no_modelfile": ("No Modelfile: {why}", "Sin Modelfile: {why}"),
    "modelfile": ("Modelfile", "Modelfile"),
    "vllm_check": ("vLLM command (GPU servers)", "Comando de vLLM (servidores con GPU)"),
    "vllm_ok": (
        "The adapter meets vLLM's LoRA limits (rank {rank}). On a GPU server with vLLM installed "
        "(copy the base model folder and the adapter folder there first):",
        "El adaptador cumple los límites LoRA de vLLM (rango {rank}). En un servidor con GPU y vLLM instalado "
        "(copia antes allí la carpeta del modelo base y la del adaptador):",
    ),
    "vllm_bad": (
        "The adapter does not meet vLLM's LoRA limits; export a GGUF or a merged model instead:",
        "El adaptador no cumple los límites LoRA de vLLM; exporta un GGUF o el modelo fusionado:",
    ),
    "outside": (
        "Refused: `{path}` is outside the folders this app serves ({root}).",
        "Rechazado: `{path}` está fuera de las carpetas que sirve esta aplicación ({root}).",
    ),
}
