#pragma once
// The subcommands that run Hugging Face models from a folder:
//
//   attnkit embed --model DIR [TEXT...]            sentence embeddings (JSON lines or .npy)
//   attnkit generate --model DIR --prompt TEXT     GPT-2 text, streamed as it is generated
//   attnkit fill-mask --model DIR TEXT             BERT's top candidates for [MASK]

namespace CLI {
class App;
}

namespace attnkit::cli {

void add_embed_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_fill_mask_command(CLI::App& app);

}  // namespace attnkit::cli
