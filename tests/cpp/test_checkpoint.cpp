// Checkpoints: stopping after a few steps, saving, loading into fresh
// objects and training on gives exactly the losses of an uninterrupted run
// (model, Adam state, dropout's generator and the schedule all restored);
// damaged checkpoints are clear errors.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "test_support.h"

namespace attnkit::testing {
namespace {

// Dropout (the layers' and the attention's) draws from the default
// generator, seeded per run; the checkpoint carries its state.
struct TrainingRun {
  std::shared_ptr<nn::TransformerEncoderLayer> model;
  std::unique_ptr<train::AdamW> optimizer;
  std::unique_ptr<train::InverseSqrtWarmup> schedule;

  explicit TrainingRun(uint64_t init_seed) {
    Generator init(init_seed);
    nn::TransformerLayerOptions o;
    o.d_model = 8;
    o.nhead = 2;
    o.dim_feedforward = 16;
    o.dropout = 0.2;  // needs the generator to replay
    o.batch_first = true;
    model = std::make_shared<nn::TransformerEncoderLayer>(o, &init);
    manual_seed(5);
    optimizer = std::make_unique<train::AdamW>(model->parameters());
    schedule = std::make_unique<train::InverseSqrtWarmup>(*optimizer, 8, 4);
  }

  double step(const Tensor& x) {
    optimizer->zero_grad();
    Tensor loss = mean(mul(model->forward(x), model->forward(x)));
    loss.backward();
    optimizer->step();
    schedule->step();
    return loss.item();
  }
};

TEST(Checkpoint, ResumingGivesTheSameLossesAsNotStopping) {
  const std::string path = ::testing::TempDir() + "attnkit_ckpt_" + std::to_string(::getpid()) + ".safetensors";
  Tensor x = randn_tensor({2, 5, 8}, 3);
  TrainingRun straight(1);
  std::vector<double> expected;
  for (int i = 0; i < 6; ++i) expected.push_back(straight.step(x));

  TrainingRun first(1);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(first.step(x), expected[i]);
  train::CheckpointExtras extras;
  extras.metadata["epoch"] = "3";
  extras.schedule_step = first.schedule->last_step();
  train::save_checkpoint(path, *first.model, first.optimizer.get(), &default_generator(), extras);

  TrainingRun resumed(99);  // different initial weights: the checkpoint must overwrite them
  manual_seed(1234);        // and another generator state
  train::CheckpointExtras back = train::load_checkpoint(path, *resumed.model, resumed.optimizer.get(), &default_generator());
  EXPECT_EQ(back.metadata.at("epoch"), "3");
  resumed.schedule->set_last_step(back.schedule_step);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(resumed.step(x), expected[i]) << "step " << i;

  // A checkpoint of another model is refused with the problem named.
  nn::Linear other(3, 3);
  EXPECT_TRUE(throws_error_naming([&] { train::load_checkpoint(path, other); }, "Unexpected keys"));
  // A truncated one too.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  EXPECT_TRUE(throws_error_naming([&] { train::load_checkpoint(path, *resumed.model); }, "truncated"));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace attnkit::testing
