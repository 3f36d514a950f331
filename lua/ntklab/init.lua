--- ntklab: neural tangent kernels, networks and training, scripted in Lua.
-- This module wraps the C module `ntklab.core` and adds the Lua-side conveniences to the
-- same metatables. It leaves _G untouched.
local core = require "ntklab.core"

local ntklab = {}
for name, value in pairs(core) do ntklab[name] = value end
ntklab.core = core
-- Renamed for one name per concept (0.1): psd_check is check_psd, as in ntklab.linalg.check_psd.
-- The old name stays for one release (README, "Renamed").
ntklab.psd_check = core.check_psd
ntklab.theory = require "ntklab.theory"     -- linear-network theory (pure Lua)
ntklab.analysis = require "ntklab.analysis" -- predictor comparison, silent-alignment readouts
ntklab.output = require "ntklab.output"     -- atomic files, JSON/CSV, plots, progress, options
ntklab.data = require "ntklab.data"         -- datasets (MNIST, Fashion-MNIST, CIFAR-10), teachers
ntklab.preprocess = require "ntklab.preprocess" -- centering, PCA, (partial) whitening
ntklab.recorder = require("ntklab.recorder").new -- trajectory recorder, a trainer's observer

return ntklab
