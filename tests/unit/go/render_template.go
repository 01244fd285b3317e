// Renders an Ollama Modelfile TEMPLATE the way Ollama does: Go text/template over the messages.
// Input on stdin: {"template": "...", "system": "...", "messages": [{"role": "...", "content": "..."}]}
// Output on stdout: the rendered prompt, nothing else.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Input struct {
	Template string    `json:"template"`
	System   string    `json:"system"`
	Messages []Message `json:"messages"`
}

// The names Ollama gives a template: .System, .Messages (each with .Role and .Content).
type Values struct {
	System   string
	Messages []Message
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	tmpl, err := template.New("modelfile").Parse(in.Template)
	if err != nil {
		fmt.Fprintln(os.Stderr, "template does not parse:", err)
		os.Exit(3)
	}
	if err := tmpl.Execute(os.Stdout, Values{System: in.System, Messages: in.Messages}); err != nil {
		fmt.Fprintln(os.Stderr, "template does not render:", err)
		os.Exit(4)
	}
}
