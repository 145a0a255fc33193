// attnkit._C.optim: the optimisers and learning-rate schedules of
// attnkit::train with torch.optim's names and defaults, and
// clip_grad_norm_ (torch.nn.utils).
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

// parameters: an iterable of tensors (module.parameters(), a generator, a list).
std::vector<Tensor> tensors_of(nb::handle params, const char* who) {
  std::vector<Tensor> out;
  for (nb::handle item : params) {
    if (!nb::isinstance<Tensor>(item)) {
      throw nb::type_error((std::string(who) + ": params must be an iterable of attnkit Tensors").c_str());
    }
    out.push_back(nb::cast<Tensor>(item));
  }
  if (out.empty()) throw ValueError(std::string(who) + ": got an empty parameter list");
  return out;
}

void bind_optimizers(nb::module_& m) {
  using train::Optimizer;
  nb::class_<Optimizer>(m, "Optimizer", "Base of the optimisers: step(), zero_grad(), lr, state dicts.")
      .def("step", [](Optimizer& o) {
        nb::gil_scoped_release release;
        o.step();
      })
      .def("zero_grad", [](Optimizer& o, bool) { o.zero_grad(); }, "set_to_none"_a = true)
      .def_prop_rw("lr", &Optimizer::lr, &Optimizer::set_lr)
      .def("state_dict", &Optimizer::state_dict)
      .def("load_state_dict", &Optimizer::load_state_dict, "state_dict"_a)
      .def_prop_ro("params", &Optimizer::params);

  nb::class_<train::SGD, Optimizer>(m, "SGD", "torch.optim.SGD: momentum, dampening, weight decay, Nesterov.")
      .def("__init__",
           [](train::SGD* self, nb::handle params, double lr, double momentum, double dampening, double weight_decay,
              bool nesterov) {
             train::SgdOptions o{lr, momentum, dampening, weight_decay, nesterov};
             new (self) train::SGD(tensors_of(params, "SGD"), o);
           },
           "params"_a, "lr"_a = 1e-3, "momentum"_a = 0.0, "dampening"_a = 0.0, "weight_decay"_a = 0.0,
           "nesterov"_a = false);

  auto adam_init = [](bool decoupled) {
    return [decoupled](train::Adam* self, nb::handle params, double lr, std::pair<double, double> betas, double eps,
                       double weight_decay, bool amsgrad) {
      train::AdamOptions o;
      o.lr = lr;
      o.beta1 = betas.first;
      o.beta2 = betas.second;
      o.eps = eps;
      o.weight_decay = weight_decay;
      o.amsgrad = amsgrad;
      o.decoupled_weight_decay = decoupled;
      new (self) train::Adam(tensors_of(params, decoupled ? "AdamW" : "Adam"), o);
    };
  };
  nb::class_<train::Adam, Optimizer>(m, "Adam", "torch.optim.Adam (L2 weight decay added to the gradient).")
      .def("__init__", adam_init(false), "params"_a, "lr"_a = 1e-3, "betas"_a = std::make_pair(0.9, 0.999),
           "eps"_a = 1e-8, "weight_decay"_a = 0.0, "amsgrad"_a = false);
  nb::class_<train::AdamW, train::Adam>(m, "AdamW", "torch.optim.AdamW (decoupled weight decay).")
      .def("__init__",
           [adam_init](train::AdamW* self, nb::handle params, double lr, std::pair<double, double> betas, double eps,
                       double weight_decay, bool amsgrad) {
             adam_init(true)(self, params, lr, betas, eps, weight_decay, amsgrad);
           },
           "params"_a, "lr"_a = 1e-3, "betas"_a = std::make_pair(0.9, 0.999), "eps"_a = 1e-8,
           "weight_decay"_a = 1e-2, "amsgrad"_a = false);
}

void bind_schedules(nb::module_& m) {
  using train::LRSchedule;
  nb::class_<LRSchedule>(m, "LRSchedule", "Base of the schedules: step() after optimizer.step().")
      .def("step", &LRSchedule::step)
      .def("get_last_lr", [](const LRSchedule& s) { return std::vector<double>{s.rate(s.last_step())}; })
      .def_prop_rw("last_epoch", &LRSchedule::last_step, &LRSchedule::set_last_step)
      .def("rate", &LRSchedule::rate, "step"_a);
  nb::class_<train::InverseSqrtWarmup, LRSchedule>(
      m, "InverseSqrtWarmup", "Vaswani et al.: factor · d_model^-0.5 · min(t^-0.5, t · warmup^-1.5), t from 1.")
      .def(nb::init<train::Optimizer&, int64_t, int64_t, double>(), "optimizer"_a, "d_model"_a, "warmup"_a,
           "factor"_a = 1.0, nb::keep_alive<1, 2>());
  nb::class_<train::WarmupCosine, LRSchedule>(
      m, "WarmupCosine", "Linear warm-up to the optimiser's lr, then cosine decay to min_lr at total_steps.")
      .def(nb::init<train::Optimizer&, int64_t, int64_t, double>(), "optimizer"_a, "warmup"_a, "total_steps"_a,
           "min_lr"_a = 0.0, nb::keep_alive<1, 2>());
  nb::class_<train::CosineAnnealing, LRSchedule>(m, "CosineAnnealingLR", "torch.optim.lr_scheduler.CosineAnnealingLR.")
      .def(nb::init<train::Optimizer&, int64_t, double>(), "optimizer"_a, "T_max"_a, "eta_min"_a = 0.0,
           nb::keep_alive<1, 2>());
}

void bind_checkpoints(nb::module_& m) {
  m.def(
      "save_checkpoint",
      [](const std::string& path, const nn::Module& model, train::Optimizer* optimizer, Generator* generator,
         const train::LRSchedule* schedule, std::optional<std::map<std::string, std::string>> metadata) {
        train::CheckpointExtras extras;
        if (metadata) extras.metadata = *metadata;
        if (schedule) extras.schedule_step = schedule->last_step();
        nb::gil_scoped_release release;
        train::save_checkpoint(path, model, optimizer, generator ? generator : &default_generator(), extras);
      },
      "path"_a, "model"_a, "optimizer"_a = nb::none(), "generator"_a = nb::none(), "schedule"_a = nb::none(),
      "metadata"_a = nb::none(),
      "Saves model, optimiser state, the generator's state (the default one if None) and the schedule's "
      "step in one safetensors file, atomically: a crash while saving leaves the previous checkpoint.");
  m.def(
      "load_checkpoint",
      [](const std::string& path, nn::Module& model, train::Optimizer* optimizer, Generator* generator,
         train::LRSchedule* schedule) {
        train::CheckpointExtras extras;
        {
          nb::gil_scoped_release release;
          extras = train::load_checkpoint(path, model, optimizer, generator ? generator : &default_generator());
        }
        if (schedule && extras.schedule_step >= 0) schedule->set_last_step(extras.schedule_step);
        return extras.metadata;
      },
      "path"_a, "model"_a, "optimizer"_a = nb::none(), "generator"_a = nb::none(), "schedule"_a = nb::none(),
      "Restores what save_checkpoint wrote (strictly: every model key must match) and returns its metadata.");
}

}  // namespace

void bind_optim(nb::module_& m) {
  nb::module_ optim = m.def_submodule("optim", "Optimisers and learning-rate schedules, as torch.optim");
  bind_optimizers(optim);
  bind_schedules(optim);
  bind_checkpoints(m);
  m.def(
      "clip_grad_norm_",
      [](nb::handle parameters, double max_norm, double norm_type, bool error_if_nonfinite) {
        if (norm_type != 2.0) throw ValueError("clip_grad_norm_: only norm_type=2 is supported");
        std::vector<Tensor> params;
        if (nb::isinstance<Tensor>(parameters)) {
          params.push_back(nb::cast<Tensor>(parameters));
        } else {
          for (nb::handle item : parameters) params.push_back(nb::cast<Tensor>(item));
        }
        return train::clip_grad_norm(params, max_norm, error_if_nonfinite);
      },
      "parameters"_a, "max_norm"_a, "norm_type"_a = 2.0, "error_if_nonfinite"_a = false,
      "torch.nn.utils.clip_grad_norm_: scales the gradients to a joint 2-norm of at most max_norm; "
      "returns the norm before clipping.");
}

}  // namespace attnkit::python
