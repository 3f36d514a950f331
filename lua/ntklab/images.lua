--- ntklab.images: image datasets for image networks (ntklab.model, ntklab.wide_resnet).
--
--   ds = images.load{dataset = "auto", classes = {0, 1}, train = 100, test = 500, seed = 0,
--                    gamma = 0, cutoff = 1e-2}
--     dataset  "auto" (CIFAR-10 when its files are present, else Fashion-MNIST), "cifar10",
--              "fashion_mnist" or "mnist";
--     gamma    partial whitening exponent of ntklab.preprocess (0: ZCA-whitened, the paper's
--              setting; 1: raw pixels, only centered and scaled); false: no preprocessing;
--     cutoff   whitening keeps singular values above cutoff x the largest (the rcond of
--              ntklab.preprocess; see the README's paragraph on MNIST's border pixels).
--   Returns the ntklab.data table (X_train, y_train, labels_train, X_test, ... source) with the
--   images as NHWC rows ([P x (H W C)], channels fastest, what ntklab.model reads) and
--     ds.shape = {C, H, W}, ds.layout = "NHWC", ds.preprocess = the fitted preprocessor;
--     ds.source.dataset names the dataset used and ds.source.fallback, when "auto" did not find
--     CIFAR-10, says so and why (a summary should print it).
--   Whitening acts on the flattened images: ZCA and partial whitening (X = U S V^T ->
--   U S^gamma V^T) commute with any permutation of the pixels, so whitening the NHWC rows is
--   whitening the images, and each whitened row is again an H x W x C image.
--   Failures of the world (no dataset found) return nil, message.
--
--   images.nhwc(X, C, H, W) / images.chw(X, C, H, W): the same images with the pixels of each row
--   reordered from planes (CHW, CIFAR-10's binary layout) to channels-last (HWC) and back.
local argcheck = require "ntklab.argcheck"
argcheck.register()

local images = {}

local SHAPES = {cifar10 = {3, 32, 32}, fashion_mnist = {1, 28, 28}, mnist = {1, 28, 28}}

-- Column permutation of a [P x C H W] tensor: out[:, j] = X[:, src[j]] (a fresh tensor).
local function permute_columns(X, src)
  return X:t():gather(src):t():contiguous()
end

local function check_image_rows(X, C, H, W, fname)
  local ntklab_core = require "ntklab.core"
  if getmetatable(X) ~= ntklab_core.metatable("tensor") then
    argcheck.fail(1, fname, "tensor expected, got " .. argcheck.typename(X))
  end
  for i, v in ipairs{C, H, W} do
    if math.type(v) ~= "integer" or v < 1 then
      argcheck.fail(i + 1, fname, "integer >= 1 expected, got " .. tostring(v))
    end
  end
  if X:dim() ~= 2 or X:size(2) ~= C * H * W then
    local shape = X:shape()
    argcheck.fail(1, fname, ("[P x %d] images expected (C H W = %d x %d x %d), got [%s]")
      :format(C * H * W, C, H, W, table.concat(shape, " x ")))
  end
end

-- Column j of an HWC row holds column nhwc_source[j] of the CHW row (both 1-based).
local function nhwc_source(C, H, W)
  local src = {}
  for h = 0, H - 1 do
    for w = 0, W - 1 do
      for c = 0, C - 1 do src[#src + 1] = (c * H + h) * W + w + 1 end
    end
  end
  return src
end

--- Rows of CHW images -> rows of HWC images.
function images.nhwc(X, C, H, W)
  check_image_rows(X, C, H, W, "images.nhwc")
  return permute_columns(X, nhwc_source(C, H, W))
end

--- Rows of HWC images -> rows of CHW images (the inverse permutation of nhwc).
function images.chw(X, C, H, W)
  check_image_rows(X, C, H, W, "images.chw")
  local inverse = {}
  for j, k in ipairs(nhwc_source(C, H, W)) do inverse[k] = j end
  return permute_columns(X, inverse)
end

local LOAD_OPTIONS = {dataset = true, classes = true, train = true, test = true, seed = true,
                      gamma = true, cutoff = true, dir = true}

--- images.load{dataset, classes, train, test, seed, gamma, cutoff, dir}: an image dataset as NHWC rows (the header).
function images.load(opts)
  local fname = "images.load"
  opts = opts or {}
  argcheck.table(opts, 1, fname)
  argcheck.options(opts, 1, fname, LOAD_OPTIONS)
  local dataset = opts.dataset or "auto"
  if dataset ~= "auto" and not SHAPES[dataset] then
    argcheck.fail(1, fname, ("option 'dataset': \"auto\", \"cifar10\", \"fashion_mnist\" or "
      .. "\"mnist\" expected, got %s"):format(tostring(dataset)))
  end
  local gamma = opts.gamma
  if gamma == nil then gamma = 0 end
  if gamma ~= false and (type(gamma) ~= "number" or gamma < 0 or gamma > 1) then
    argcheck.fail(1, fname, "option 'gamma': number in [0, 1] or false expected, got " .. tostring(gamma))
  end
  local cutoff = opts.cutoff or 1e-2
  if type(cutoff) ~= "number" or cutoff < 0 or cutoff >= 1 then
    argcheck.fail(1, fname, "option 'cutoff': number in [0, 1) expected, got " .. tostring(cutoff))
  end
  local data = require "ntklab.data"
  local preprocess = require "ntklab.preprocess"
  local dopts = {classes = opts.classes or {0, 1}, train = opts.train or 100,
                 test = opts.test or 500, seed = opts.seed or 0, dir = opts.dir}
  local ds, err, fallback
  if dataset == "auto" then
    ds, err = data.cifar10(dopts)
    dataset = "cifar10"
    if not ds then
      fallback = "CIFAR-10 not found (" .. tostring(err) .. "); Fashion-MNIST used instead"
      ds, err = data.fashion_mnist(dopts)
      dataset = "fashion_mnist"
    end
  else
    ds, err = data[dataset](dopts)
  end
  if not ds then return nil, fallback and (fallback .. "; " .. tostring(err)) or err end
  local C, H, W = table.unpack(SHAPES[dataset])
  if C > 1 then -- CIFAR-10 rows are colour planes
    ds.X_train = images.nhwc(ds.X_train, C, H, W)
    ds.X_test = images.nhwc(ds.X_test, C, H, W)
  end
  if gamma ~= false then
    local pp, perr = preprocess.fit(ds.X_train, {gamma = gamma, rcond = cutoff > 0 and cutoff or nil})
    if not pp then return nil, perr end
    ds.X_train, ds.X_test = pp:transform(ds.X_train), pp:transform(ds.X_test)
    ds.preprocess = pp
  end
  ds.shape, ds.layout = {C, H, W}, "NHWC"
  ds.source.dataset = dataset
  ds.source.fallback = fallback
  ds.source.whitening = gamma == false and "none" or {gamma = gamma, cutoff = cutoff}
  return ds
end

return images
