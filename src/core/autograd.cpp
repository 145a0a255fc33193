#include "attnkit/core/autograd.h"

#include <mutex>
#include <unordered_map>

#include "attnkit/ops/elementwise.h"

namespace attnkit::autograd {

namespace {
thread_local bool g_grad_mode = true;

// grad += extra, allocating on first use. Gradients are fresh tensors owned by
// the engine, so accumulating in place is safe.
void accumulate(Tensor& total, const Tensor& extra) {
  if (!total.defined()) {
    total = extra;
  } else {
    total = add(total, extra);
  }
}
}  // namespace

bool grad_mode_enabled() { return g_grad_mode; }
void set_grad_enabled(bool enabled) { g_grad_mode = enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }
NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_mode) { g_grad_mode = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_mode = previous_; }

Node::~Node() {
  std::vector<std::shared_ptr<Node>> orphans;
  auto adopt_sole_owned = [&orphans](std::vector<Edge>& edges) {
    for (Edge& edge : edges) {
      if (edge.node && edge.node.use_count() == 1) orphans.push_back(std::move(edge.node));
    }
  };
  adopt_sole_owned(inputs_);
  while (!orphans.empty()) {
    std::shared_ptr<Node> node = std::move(orphans.back());
    orphans.pop_back();
    node->backward_ = nullptr;  // saved tensors go first, so they cannot recurse either
    adopt_sole_owned(node->inputs_);
  }  // `node` dies here with no edges left
}

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  if (!backward_) {
    throw StateError("backward: trying to backward through " + name_ +
                     " a second time, but its saved tensors were freed; "
                     "pass retain_graph=true to the first backward");
  }
  std::vector<bool> needs(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) needs[i] = inputs_[i].active();
  return backward_(grad_output, needs);
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor* t : inputs) {
    if (t != nullptr && t->defined() && t->requires_grad()) return true;
  }
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFn backward) {
  std::vector<Edge> edges;
  std::vector<Shape> shapes;
  edges.reserve(inputs.size());
  shapes.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.grad_fn()) {
        edge.node = input.grad_fn();
      } else {
        edge.leaf = input.impl_ptr();
      }
    }
    edges.push_back(std::move(edge));
    shapes.push_back(input.defined() ? input.shape() : Shape{});
  }
  TensorImpl& out = output.impl();
  out.requires_grad = true;
  out.grad_fn = std::make_shared<Node>(name, std::move(backward), std::move(edges),
                                       std::move(shapes));
}

std::mutex& leaf_grad_mutex() {
  static std::mutex mutex;
  return mutex;
}

namespace {
// The first gradient is stored as a fresh contiguous copy (so it aliases
// nothing); later ones are added into that same tensor, so a reference to
// `.grad` taken earlier sees the sum, as in PyTorch.
// Whether nothing but `t` refers to its memory, which it fills exactly from
// the start: a gradient a backward function has just made. Such a gradient
// can become a leaf's .grad as it is (torch steals it too), where a copy
// would cost as much as a small backward at image sizes (0.3 s for 411 MB).
bool is_sole_owner_of_dense_memory(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.is_contiguous() && t.offset() == 0 &&
         t.storage()->nbytes() == static_cast<size_t>(t.numel()) * dtype_size(t.dtype()) && !t.grad_fn() &&
         !t.requires_grad();
}

// `gradient` may be taken over when nothing else refers to it (see above);
// otherwise the first gradient is copied, so .grad never aliases a tensor the
// caller still holds.
void accumulate_leaf(TensorImpl& leaf, Tensor gradient) {
  std::lock_guard lock(leaf_grad_mutex());  // backward may run on several threads
  if (!leaf.grad) {
    if (is_sole_owner_of_dense_memory(gradient)) {
      leaf.grad = gradient.impl_ptr();
      return;
    }
    Tensor copy = gradient.contiguous();
    if (copy.impl_ptr() == gradient.impl_ptr()) copy = gradient.clone();
    leaf.grad = copy.detach().impl_ptr();
  } else {
    Tensor total(leaf.grad);
    total.copy_(add(total, gradient));
  }
}
}  // namespace

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  AK_CHECK(root.requires_grad(), "backward: tensor does not require grad and has no grad_fn");
  AK_CHECK(gradient.shape() == root.shape(), "backward: gradient shape ",
           shape_str(gradient.shape()), " does not match tensor shape ", shape_str(root.shape()));
  NoGradGuard no_grad;  // the backward pass itself is not recorded
  if (!root.grad_fn()) {
    accumulate_leaf(root.impl(), gradient);
    return;
  }

  // Count how many gradients each node will receive, so a node runs only once
  // all of them are summed (Kahn's algorithm over the graph).
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.grad_fn().get()};
  pending[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->inputs()) {
      if (!edge.node) continue;
      auto [it, inserted] = pending.try_emplace(edge.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(edge.node.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = gradient;
  std::vector<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor grad_output = std::move(grads[node.get()]);
    grads.erase(node.get());
    std::vector<Tensor> input_grads = node->apply(grad_output);
    if (!retain_graph) node->release();
    const auto& edges = node->inputs();
    if (input_grads.size() != edges.size()) {
      throw Error("backward: internal error in " + node->name() + ": returned " +
                  std::to_string(input_grads.size()) + " gradients for " +
                  std::to_string(edges.size()) + " inputs");
    }
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& edge = edges[i];
      if (!edge.active()) continue;
      Tensor& g = input_grads[i];
      if (!g.defined()) {
        throw Error("backward: internal error in " + node->name() + ": no gradient for input " +
                    std::to_string(i));
      }
      if (g.shape() != node->input_shapes()[i]) {
        throw Error("backward: internal error in " + node->name() + ": gradient of shape " +
                    shape_str(g.shape()) + " for input " + std::to_string(i) + " of shape " +
                    shape_str(node->input_shapes()[i]));
      }
      if (edge.leaf) {
        accumulate_leaf(*edge.leaf, std::move(g));
        continue;
      }
      accumulate(grads[edge.node.get()], g);
      if (--pending[edge.node.get()] == 0) ready.push_back(edge.node);
    }
  }
}

}  // namespace attnkit::autograd
