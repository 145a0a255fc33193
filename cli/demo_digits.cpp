#include "demo_digits.h"

#include <CLI/CLI.hpp>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "attnkit/attnkit.h"
#include "attnkit/data/digits.h"
#include "attnkit/io/map_overlay.h"
#include "attnkit/nn/vision/cbam.h"
#include "attnkit/nn/vision/spatial_transformer.h"
#include "attnkit/train/progress_bar.h"

namespace attnkit::cli {

namespace {

enum class Variant { Plain, Cbam, Stn };

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::Plain: return "plain CNN";
    case Variant::Cbam: return "CNN + CBAM";
    case Variant::Stn: return "STN + CNN";
  }
  return "";
}

// ---- data ----

// The digits file: --data, else $ATTNKIT_DIGITS, else scikit-learn's copy as
// python3 finds it.
std::string find_digits_file(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("ATTNKIT_DIGITS")) return env;
  std::string found;
  if (std::FILE* pipe = popen(
          "python3 -c \"import os, sklearn; print(os.path.join(os.path.dirname(sklearn.__file__), 'datasets', "
          "'data', 'digits.csv.gz'))\" 2>/dev/null",
          "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, pipe)) found += buf;
    pclose(pipe);
  }
  while (!found.empty() && (found.back() == '\n' || found.back() == '\r')) found.pop_back();
  AK_CHECK(!found.empty() && std::filesystem::exists(found),
           "demo digits: cannot find scikit-learn's digits (sklearn/datasets/data/digits.csv.gz): install "
           "scikit-learn for python3 (pip install scikit-learn), or pass --data PATH");
  return found;
}

// The whole file, gunzipped if it is gzip (zlib reads plain files as they are).
std::string read_maybe_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  AK_CHECK(file != nullptr, "demo digits: cannot open ", path);
  std::string text;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(file, buf, sizeof buf)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    AK_CHECK(text.size() < (64u << 20), "demo digits: ", path, " is larger than 64 MB: not the digits file");
  }
  const bool failed = n < 0;
  gzclose(file);
  AK_CHECK(!failed, "demo digits: ", path, " is not a readable gzip file");
  return text;
}

// Rows `index` of x (N, ...), stacked: (index.size(), ...).
Tensor take(const Tensor& x, const std::vector<int64_t>& index) {
  std::vector<Tensor> rows;
  rows.reserve(index.size());
  for (int64_t i : index) rows.push_back(x.select(0, i));
  return stack(rows, 0);
}

// 0..n-1 in a random order (Fisher-Yates).
std::vector<int64_t> shuffled(int64_t n, Generator& generator) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  const Tensor u = rand({n}, &generator).contiguous();
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = std::min(i, static_cast<int64_t>(u.data<float>()[i] * static_cast<float>(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

// ---- the model ----

// conv(1->16) bn relu pool | conv(16->32) bn relu [CBAM] pool | conv(32->32) bn relu pool | fc(32·S/8·S/8 -> 10),
// with an optional spatial transformer in front. Inputs (B, 1, S, S). The
// classifier reads positions (no global pooling), as the STN paper's: where
// a digit lies matters to it, so a spatial transformer in front gains by
// centring the digits as well as turning them upright.
class DigitsNet : public nn::Module {
 public:
  DigitsNet(Variant variant, int64_t size, Generator* g) {
    // A 3×3 convolution keeping the size.
    auto conv3x3 = [g](int64_t in, int64_t out) {
      return std::make_shared<nn::Conv2d>(
          nn::ConvOptions{.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1}, g);
    };
    if (variant == Variant::Stn) {
      stn = register_module("stn", std::make_shared<nn::vision::SpatialTransformer>(
                                       nn::vision::SpatialTransformerOptions{.in_channels = 1, .input_size = {size, size}},
                                       g));
    }
    conv1 = register_module("conv1", conv3x3(1, 16));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(16));
    conv2 = register_module("conv2", conv3x3(16, 32));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(32));
    if (variant == Variant::Cbam) {
      cbam = register_module("cbam", std::make_shared<nn::vision::CBAM>(
                                         nn::vision::CbamOptions{.channels = 32, .rd_ratio = 1.0 / 8}, g));
    }
    conv3 = register_module("conv3", conv3x3(32, 32));
    bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(32));
    fc = register_module("fc", std::make_shared<nn::Linear>(32 * (size / 8) * (size / 8), 10, true, g));
  }
  std::string name() const override { return "DigitsNet"; }

  // x (B, 1, S, S) -> logits (B, 10)
  Tensor forward(Tensor x) {
    if (stn) x = stn->forward(x);                              // (B, 1, S, S), rectified
    x = max_pool2d(relu(bn1->forward(conv1->forward(x))), 2);  // (B, 16, S/2, S/2)
    x = relu(bn2->forward(conv2->forward(x)));                 // (B, 32, S/2, S/2)
    if (cbam) x = cbam->forward(x);
    x = max_pool2d(x, 2);                                      // (B, 32, S/4, S/4)
    x = max_pool2d(relu(bn3->forward(conv3->forward(x))), 2);  // (B, 32, S/8, S/8)
    return fc->forward(x.flatten(1));                          // (B, 10)
  }

  std::shared_ptr<nn::vision::SpatialTransformer> stn;
  std::shared_ptr<nn::vision::CBAM> cbam;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Linear> fc;
};

// Predicted classes of logits (B, 10), and how many equal the labels.
int64_t count_right(const Tensor& logits, const Tensor& labels, std::vector<int64_t>* predicted = nullptr) {
  const Tensor p = argmax(logits, 1).contiguous();
  const Tensor l = labels.contiguous();
  int64_t right = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    right += p.data<int64_t>()[i] == l.data<int64_t>()[i];
    if (predicted) predicted->push_back(p.data<int64_t>()[i]);
  }
  return right;
}

struct Trained {
  std::shared_ptr<DigitsNet> net;
  double accuracy = 0, seconds = 0;
  std::vector<int64_t> predicted;  // on the test set
};

Trained train_variant(Variant variant, const data::Digits& train_set, const data::DistortedDigits& test_set,
                      const Tensor& test_labels, const DigitsDemoOptions& o) {
  Generator init(o.seed + 17), draws(o.seed + 29);
  Trained result{std::make_shared<DigitsNet>(variant, o.size, &init)};
  DigitsNet& net = *result.net;
  train::AdamOptions adam;
  adam.lr = o.lr;
  train::Adam optimizer(net.parameters(), adam);
  train::WarmupCosine schedule(optimizer, o.steps / 10, o.steps, o.lr / 20);
  schedule.start();
  net.train();
  const int64_t n = train_set.labels.size(0);
  train::ProgressBar bar(o.steps, variant_name(variant));
  double smoothed_loss = 0, smoothed_accuracy = 0;
  for (int64_t step = 0; step < o.steps; ++step) {
    // A fresh distortion of each digit drawn: the net never sees one twice.
    const Tensor pick = randint(0, n, {o.batch_size}, &draws).contiguous();
    const std::vector<int64_t> index(pick.data<int64_t>(), pick.data<int64_t>() + o.batch_size);
    const data::DistortedDigits batch = data::distort_digits(take(train_set.images, index), {.size = o.size}, draws);
    const Tensor labels = take(train_set.labels, index);
    const Tensor logits = net.forward(batch.images);
    const Tensor loss = cross_entropy(logits, labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    schedule.step();
    const double decay = step == 0 ? 0.0 : 0.95;
    smoothed_loss = decay * smoothed_loss + (1 - decay) * loss.item();
    smoothed_accuracy = decay * smoothed_accuracy +
                        (1 - decay) * static_cast<double>(count_right(logits, labels)) / static_cast<double>(o.batch_size);
    char status[64];
    std::snprintf(status, sizeof status, "loss %.3f  acc %5.1f%%", smoothed_loss, 100 * smoothed_accuracy);
    bar.update(step + 1, status);
  }
  bar.finish();
  result.seconds = bar.elapsed_seconds();

  NoGradGuard no_grad;
  net.eval();
  const Tensor logits = net.forward(test_set.images);
  result.accuracy = static_cast<double>(count_right(logits, test_labels, &result.predicted)) /
                    static_cast<double>(test_labels.numel());
  return result;
}

// ---- how upright and centred a digit is ----

// From an image's grey-level moments: its centroid relative to the canvas
// centre (pixels) and its main axis' angle (radians, in (-π/2, π/2]).
struct Pose {
  double x = 0, y = 0, angle = 0;
};

Pose pose_of(const Tensor& image) {  // (1, S, S)
  const Tensor x = image.contiguous();
  const int64_t s = x.size(-1);
  const float* p = x.data<float>();
  double m = 0, mx = 0, my = 0;
  for (int64_t y = 0; y < s; ++y)
    for (int64_t c = 0; c < s; ++c) m += p[y * s + c], mx += c * p[y * s + c], my += y * p[y * s + c];
  if (m <= 0) return {};
  mx /= m, my /= m;
  double sxx = 0, syy = 0, sxy = 0;
  for (int64_t y = 0; y < s; ++y) {
    for (int64_t c = 0; c < s; ++c) {
      const double w = p[y * s + c];
      sxx += w * (c - mx) * (c - mx), syy += w * (y - my) * (y - my), sxy += w * (c - mx) * (y - my);
    }
  }
  const double centre = (s - 1) / 2.0;
  return {mx - centre, my - centre, 0.5 * std::atan2(2 * sxy, sxx - syy)};
}

// The angle between two axes (no direction), degrees in [0, 90].
double axis_difference_degrees(double a, double b) {
  double d = std::fmod(std::abs(a - b), std::numbers::pi);
  return std::min(d, std::numbers::pi - d) * 180 / std::numbers::pi;
}

struct PoseError {
  double offset = 0;  // mean distance of the centroids from the canvas centre, pixels
  double spread = 0;  // mean distance of the centroids from their mean: how consistently placed, pixels
  double angle = 0;   // mean angle between each main axis and the upright digit's, degrees
};

PoseError pose_error(const Tensor& images, const Tensor& canonical) {
  PoseError e;
  const int64_t n = images.size(0);
  std::vector<Pose> poses;
  double mean_x = 0, mean_y = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Pose p = pose_of(images.select(0, i)), c = pose_of(canonical.select(0, i));
    e.offset += std::hypot(p.x, p.y) / n;
    e.angle += axis_difference_degrees(p.angle, c.angle) / n;
    mean_x += p.x / n, mean_y += p.y / n;
    poses.push_back(p);
  }
  for (const Pose& p : poses) e.spread += std::hypot(p.x - mean_x, p.y - mean_y) / n;
  return e;
}

std::string label_text(const char* what, int64_t label, int64_t predicted) {
  return std::string(what) + " " + std::to_string(label) + (predicted == label ? "" : "?" + std::to_string(predicted));
}

}  // namespace

int run_digits_demo(const DigitsDemoOptions& o) {
  AK_CHECK(o.steps > 0 && o.batch_size > 0 && o.size >= 24 && o.size % 8 == 0 && o.test_size > 0 && o.examples >= 0,
           "demo digits: steps, batch size and test size must be positive, the size a multiple of 8 (three 2x2 "
           "poolings) of at least 24, examples >= 0; got size ", o.size);
  if (o.threads > 0) set_num_threads(o.threads);
  const std::string path = find_digits_file(o.data);
  const data::Digits all = data::digits_from_csv(read_maybe_gzip(path));
  const int64_t n = all.labels.size(0);
  AK_CHECK(o.test_size < n, "demo digits: --test-size ", o.test_size, " leaves no training digits of ", n);

  // A fixed split: the test digits get one fixed distortion each.
  Generator split(o.seed + 1);
  const std::vector<int64_t> order = shuffled(n, split);
  const std::vector<int64_t> test_index(order.begin(), order.begin() + o.test_size),
      train_index(order.begin() + o.test_size, order.end());
  const data::Digits train_set{take(all.images, train_index), take(all.labels, train_index)};
  const Tensor test_labels = take(all.labels, test_index);
  Generator test_draws(o.seed + 2);
  const data::DistortedDigits test_set = data::distort_digits(take(all.images, test_index), {.size = o.size}, test_draws);

  std::printf("attnkit demo: handwritten digits, rotated (up to 40 degrees), scaled (0.8-1.2) and shifted\n");
  std::printf("  data    %s\n          %lld digits of 8x8 on %lldx%lld canvases: %lld to train (a fresh distortion "
              "each time), %lld to test\n",
              path.c_str(), static_cast<long long>(n), static_cast<long long>(o.size), static_cast<long long>(o.size),
              static_cast<long long>(n - o.test_size), static_cast<long long>(o.test_size));
  std::printf("  train   %lld steps of %lld per model (Adam, peak lr %g), %d threads\n\n",
              static_cast<long long>(o.steps), static_cast<long long>(o.batch_size), o.lr, get_num_threads());
  std::fflush(stdout);

  std::vector<Trained> trained;
  for (Variant v : {Variant::Plain, Variant::Cbam, Variant::Stn}) {
    trained.push_back(train_variant(v, train_set, test_set, test_labels, o));
  }

  std::printf("\ntest accuracy on %lld distorted digits:\n", static_cast<long long>(o.test_size));
  const Variant variants[] = {Variant::Plain, Variant::Cbam, Variant::Stn};
  for (size_t i = 0; i < trained.size(); ++i) {
    std::printf("  %-12s %5.1f%%   (trained in %.0f s)\n", variant_name(variants[i]), 100 * trained[i].accuracy,
                trained[i].seconds);
  }

  // How much the spatial transformer straightened and centred the test digits.
  DigitsNet& stn_net = *trained[2].net;
  DigitsNet& cbam_net = *trained[1].net;
  NoGradGuard no_grad;
  const Tensor rectified = stn_net.stn->forward(test_set.images);  // (T, 1, S, S)
  const Tensor grids = stn_net.stn->attention_map();                // (T, S, S, 2)
  const PoseError before = pose_error(test_set.images, test_set.canonical);
  const PoseError after = pose_error(rectified, test_set.canonical);
  std::printf("\nthe spatial transformer's rectification (means over the test digits):\n");
  std::printf("  centroid off the canvas centre:     inputs %.2f px   rectified %.2f px\n", before.offset, after.offset);
  std::printf("  centroid off the digits' mean one:  inputs %.2f px   rectified %.2f px\n", before.spread, after.spread);
  std::printf("  main axis off the upright digit's:  inputs %.1f deg  rectified %.1f deg\n", before.angle, after.angle);

  if (o.examples > 0) {
    std::filesystem::create_directories(o.out_dir);
    const int64_t k = std::min(o.examples, o.test_size);
    std::vector<io::Image> stn_panels, cbam_panels;
    cbam_net.forward(test_set.images.narrow(0, 0, k));
    const Tensor cbam_maps = cbam_net.cbam->attention_map();  // (k, 1, S/2, S/2)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t label = test_labels.data<int64_t>()[i];
      const Tensor input = test_set.images.select(0, i);  // (1, S, S)
      io::MapOverlayOptions region{.scale = 4, .title = label_text("in", label, label)};
      region.outline = io::sampling_outline(grids.select(0, i), o.size, o.size);
      stn_panels.push_back(io::render_map_overlay(input, Tensor(), region));
      stn_panels.push_back(io::render_map_overlay(rectified.select(0, i), Tensor(),
                                                  {.scale = 4,
                                                   .title = label_text("stn", label, trained[2].predicted[i])}));
      cbam_panels.push_back(io::render_map_overlay(input, cbam_maps.select(0, i),
                                                   {.alpha = 0.5,
                                                    .scale = 4,
                                                    .title = label_text("cbam", label, trained[1].predicted[i])}));
    }
    const std::string stn_path = (std::filesystem::path(o.out_dir) / "stn_rectified.png").string();
    const std::string cbam_path = (std::filesystem::path(o.out_dir) / "cbam_spatial_maps.png").string();
    io::write_png(stn_path, io::tile_images(stn_panels, 8));
    io::write_png(cbam_path, io::tile_images(cbam_panels, 6));
    std::printf("\npictures (titles: true label, ?prediction when wrong):\n");
    std::printf("  %s\n    pairs: the distorted input with the region the STN sampled outlined, then what the STN "
                "made of it\n",
                std::filesystem::absolute(stn_path).lexically_normal().c_str());
    std::printf("  %s\n    CBAM's spatial attention (after the second conv, 16x16) over each input\n",
                std::filesystem::absolute(cbam_path).lexically_normal().c_str());
  }
  return 0;
}

void add_digits_demo(CLI::App& demo) {
  auto options = std::make_shared<DigitsDemoOptions>();
  CLI::App* app = demo.add_subcommand(
      "digits",
      "Train a small CNN on scikit-learn's handwritten digits, enlarged and randomly rotated, scaled and shifted, three "
      "ways: plain, with CBAM, and with a spatial transformer in front; report test accuracy, how much the spatial "
      "transformer straightened and centred the digits, and write PNGs of rectified digits and CBAM's maps.");
  app->add_option("--data", options->data,
                  "scikit-learn's digits.csv.gz (default: $ATTNKIT_DIGITS, else found through python3's sklearn)");
  app->add_option("--steps", options->steps, "Training steps per model")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--batch-size", options->batch_size, "Digits per step")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--lr", options->lr, "Peak learning rate of Adam")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--size", options->size, "Canvas side in pixels (a multiple of 8, >= 24)")->capture_default_str();
  app->add_option("--test-size", options->test_size, "Digits held out for testing")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--examples", options->examples, "Digits drawn in the pictures")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--seed", options->seed, "Seed of the split, the distortions and the weights")->capture_default_str();
  app->add_option("--threads", options->threads, "Threads (0: every core)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--out", options->out_dir, "Folder for the PNGs (created if missing)")->capture_default_str();
  app->callback([options] { run_digits_demo(*options); });
}

}  // namespace attnkit::cli
