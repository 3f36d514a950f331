--- ntklab.image_data: the two-class image data of the paper's CIFAR-10 experiments, with a
-- fallback where CIFAR-10 cannot be had.
--
--   local ds, err = image_data.two_class("auto", {train = 100, test = 0, seed = 1})
--   print(ds.name, ds.description)     -- "fashion_mnist", "Fashion-MNIST classes 0/1 (...)"
--
-- which = "cifar10" (classes 0/1, airplane/automobile), "fashion_mnist" (classes 0/1,
-- T-shirt/trouser; Debian's dataset-fashion-mnist) or "auto": CIFAR-10 when its binary batches
-- are present (ntklab.data.cifar10's directory), else Fashion-MNIST. The result is
-- ntklab.data's dataset table plus name, description (for summaries and plot titles) and
-- source_summary (a JSON-safe digest of ds.source). Failures of the world return nil, msg.
-- The loading and the CIFAR-10 -> Fashion-MNIST fallback are ntklab.images.load's, without its
-- preprocessing (gamma = false: the experiments whiten with their own settings); so CIFAR-10 rows
-- come channels-last (NHWC), which a dense net does not see (a fixed permutation of the inputs).
local images = require "ntklab.images"

local image_data = {}

local NAMES = {
  cifar10 = "CIFAR-10 classes 0/1 (airplane, automobile)",
  fashion_mnist = "Fashion-MNIST classes 0/1 (T-shirt/top, trouser)",
}

--- image_data.two_class(which, opts): CIFAR-10 0/1 or Fashion-MNIST 0/1, whitened (the header).
function image_data.two_class(which, opts)
  if NAMES[which] == nil and which ~= "auto" then
    error(("bad argument #1 to 'image_data.two_class' ('auto', 'cifar10' or 'fashion_mnist' expected, got %s)")
      :format(tostring(which)), 2)
  end
  if type(opts) ~= "table" then
    error("bad argument #2 to 'image_data.two_class' (table expected, got " .. type(opts) .. ")", 2)
  end
  local ds, err = images.load{dataset = which, classes = {0, 1}, train = opts.train, test = opts.test,
    seed = opts.seed, gamma = false}
  if not ds then return nil, err end
  local name = ds.source.dataset
  ds.name = name
  local n_train = ds.X_train:size(1)
  local n_test = ds.X_test and ds.X_test:size(1) or 0
  ds.description = ("%s, %d train / %d test"):format(NAMES[name], n_train, n_test)
  ds.source_summary = {dataset = name, origin = ds.source.origin, dir = ds.source.dir,
    train = n_train, test = n_test, seed = opts.seed}
  return ds
end

return image_data
