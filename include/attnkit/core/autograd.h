#pragma once
// Define-by-run autograd.
//
// Every differentiable op that sees an input requiring grad (and grad mode on)
// records a Node on its output: the closure that maps the output's gradient to
// its inputs' gradients, holding only the tensors that closure needs. Leaves
// receive gradients into `.grad`, summed when a tensor is used twice.
// Under NoGradGuard nothing is recorded and nothing is kept alive.

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit::autograd {

bool grad_mode_enabled();
// Sets grad mode for the calling thread (for context managers that enter and
// exit in separate calls; prefer the guards below in C++).
void set_grad_enabled(bool enabled);

// RAII: disables recording for its lifetime (thread-local, nests).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// RAII: sets grad mode to `enabled` for its lifetime.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};

// The backward closure: given the gradient of the op's output and which inputs
// need a gradient, returns one gradient per input (undefined where not needed),
// each of the input's shape.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& needs_grad)>;

// Where one input's gradient goes: into another node, or into a leaf's .grad.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool active() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  Node(std::string name, BackwardFn backward, std::vector<Edge> inputs,
       std::vector<Shape> input_shapes)
      : name_(std::move(name)), backward_(std::move(backward)),
        inputs_(std::move(inputs)), input_shapes_(std::move(input_shapes)) {}
  // Frees the graph behind this node iteratively: the default, recursive
  // destruction would overflow the stack on long chains (a 100k-step RNN).
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  bool released() const { return !backward_; }
  std::vector<Tensor> apply(const Tensor& grad_output);
  // Frees the saved tensors after a backward without retain_graph.
  void release() { backward_ = nullptr; }

 private:
  std::string name_;
  BackwardFn backward_;
  std::vector<Edge> inputs_;
  std::vector<Shape> input_shapes_;
};

// True when an op over `inputs` must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `output` (which must be a fresh result of the op).
void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFn backward);

// Guards every leaf's .grad: backward passes on several threads may share leaves.
std::mutex& leaf_grad_mutex();

// Runs backward from `root` with `gradient` (same shape as root).
void backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace attnkit::autograd

namespace attnkit {
using autograd::NoGradGuard;
}
