--- ntklab: neural tangent kernels, networks and training, scripted in Lua.
-- This module wraps the C module `ntklab.core` and adds the Lua-side conveniences to the
-- same metatables. It leaves _G untouched.
local core = require "ntklab.core"

local ntklab = {}
for name, value in pairs(core) do ntklab[name] = value end
ntklab.core = core
ntklab.theory = require "ntklab.theory"     -- linear-network theory (pure Lua)
ntklab.analysis = require "ntklab.analysis" -- predictor comparison, silent-alignment readouts
ntklab.output = require "ntklab.output"     -- atomic files, JSON/CSV, plots, progress, options
ntklab.data = require "ntklab.data"         -- datasets (MNIST, Fashion-MNIST, CIFAR-10), teachers
ntklab.preprocess = require "ntklab.preprocess" -- centering, PCA, (partial) whitening
ntklab.recorder = require("ntklab.recorder").new -- trajectory recorder, a trainer's observer

-- image networks (issue 16): the paper's Wide-ResNet as an ntklab.model
local wide_resnet = require "ntklab.wide_resnet"
ntklab.wide_resnet = wide_resnet.build          -- ntklab.wide_resnet{k, b, outputs, sigma, ...}
ntklab.wide_resnet_layers = wide_resnet.layers  -- its layer list, for inspection
ntklab.images = require "ntklab.images"         -- image datasets as NHWC rows, whitened

return ntklab
