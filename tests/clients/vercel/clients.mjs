// The Vercel AI SDK against chinwag: its default provider call (the Responses API) and
// `.chat` (Chat Completions), with generateText and streamText. Prints one JSON line per call.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const openai = createOpenAI({ baseURL: process.env.CHINWAG_BASE_URL, apiKey: process.env.CHINWAG_KEY });
const models = { responses: openai("vinhuset"), chat: openai.chat("vinhuset") };
for (const [api, model] of Object.entries(models)) {
  const generated = await generateText({ model, prompt: "Hei", maxRetries: 0 });
  console.log(JSON.stringify({ api, call: "generateText", text: generated.text, usage: generated.usage }));
  const streamed = streamText({ model, prompt: "Hei", maxRetries: 0, onError: ({ error }) => { throw error; } });
  let text = "";
  for await (const piece of streamed.textStream) text += piece;
  console.log(JSON.stringify({ api, call: "streamText", text, usage: await streamed.usage }));
}
