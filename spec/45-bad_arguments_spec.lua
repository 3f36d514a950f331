-- 45-bad_arguments: every public function of ntklab.theory, ntklab.analysis and ntklab.output
-- rejects bad input with Lua's own wording, naming the function and the argument, and blames
-- the caller (the message carries this file's name and line).
local bad_args = require "spec.support.bad_args"
local theory = require "ntklab.theory"
local analysis = require "ntklab.analysis"
local output = require "ntklab.output"

local traj = {t = {0, 1}, alignment = {0.1, 0.9}, kernel_norm = {0.1, 1}, loss = {1, 0.1}}
local spec = {name = "x", options = {{name = "n", type = "integer", default = 1}}}
local kernel = theory.final_ntk(1, 2, {1, 0})
local series = {{x = {1, 2}, y = {1, 2}}}
local snap = {t = 0, K = {{1}}, k = {{1}}}

-- Rows for the shared registry (spec/support/bad_args.lua), named by their path in the ntklab
-- module table: spec/99 checks that every reachable function has one.
local cases = {
  -- theory: two-layer
  {"ntklab.theory.u2", function() theory.u2() end, "bad argument #1 to 'theory.u2' (number expected, got nil)"},
  {"ntklab.theory.u2", function() theory.u2(-1, 1, 1) end, "bad argument #1 to 'theory.u2' (non-negative finite number expected, got -1)"},
  {"ntklab.theory.u2", function() theory.u2(1, 0, 1) end, "bad argument #2 to 'theory.u2' (positive finite number expected, got 0)"},
  {"ntklab.theory.u2", function() theory.u2(1, 1, "a") end, "bad argument #3 to 'theory.u2' (number expected, got string)"},
  {"ntklab.theory.q", function() theory.q() end, "bad argument #1 to 'theory.q' (number expected, got nil)"},
  {"ntklab.theory.q", function() theory.q(0 / 0, 1, 1) end, "bad argument #1 to 'theory.q' (non-negative finite number expected, got"},
  {"ntklab.theory.q", function() theory.q(1, 1, 0) end, "bad argument #3 to 'theory.q' (positive finite number expected, got 0)"},
  {"ntklab.theory.q", function() theory.q(1, 1, 1e-4, 2e-4) end, "bad argument #4 to 'theory.q' (-q0 < r0 <= q0 expected, got r0 = 0.0002, q0 = 0.0001)"},
  {"ntklab.theory.q", function() theory.q(1, 1, 1e-4, -1e-4) end, "bad argument #4 to 'theory.q' (-q0 < r0 <= q0 expected, got r0 = -0.0001, q0 = 0.0001)"},
  {"ntklab.theory.r", function() theory.r(1, {}, 1) end, "bad argument #2 to 'theory.r' (number expected, got table)"},
  {"ntklab.theory.r", function() theory.r(1, 1, 1, math.huge) end, "bad argument #4 to 'theory.r' (finite number expected, got inf)"},
  {"ntklab.theory.q_paper", function() theory.q_paper(1, 1) end, "bad argument #3 to 'theory.q_paper' (number expected, got nil)"},
  {"ntklab.theory.r_paper", function() theory.r_paper(nil, 1, 1) end, "bad argument #1 to 'theory.r_paper' (number expected, got nil)"},
  {"ntklab.theory.qr", function() theory.qr(1, {{1}}, {1}) end, "bad argument #1 to 'theory.qr' (vector a expected (table or tensor), got number)"},
  {"ntklab.theory.qr", function() theory.qr({1, 2}, {{1, 2}}, {1, 2}) end, "bad argument #2 to 'theory.qr' (W has 1 rows, a has 2 entries)"},
  {"ntklab.theory.qr", function() theory.qr({1}, {{1, 2}}, {1}) end, "bad argument #3 to 'theory.qr' (beta has 1 entries, W has 2 columns)"},
  {"ntklab.theory.qr", function() theory.qr({1}, {{1, 2}}, {0, 0}) end, "bad argument #3 to 'theory.qr' (non-zero vector expected)"},
  {"ntklab.theory.qr", function() theory.qr({1}, {{1, "x"}}, {1, 0}) end, "bad argument #2 to 'theory.qr' (number expected at [1, 2], got string)"},
  {"ntklab.theory.qr", function() theory.qr({1}, {{1, 2}, {1}}, {1, 0}) end, "bad argument #2 to 'theory.qr' (matrix W row 2 has 1 entries, row 1 has 2)"},
  {"ntklab.theory.expected_q0", function() theory.expected_q0(0.1, 2.5, 3) end, "bad argument #2 to 'theory.expected_q0' (integer expected, got 2.5)"},
  {"ntklab.theory.expected_q0", function() theory.expected_q0(0.1, 2, 0) end, "bad argument #3 to 'theory.expected_q0' (integer >= 1 expected, got 0)"},
  {"ntklab.theory.expected_r0_squared", function() theory.expected_r0_squared(-1, 2) end, "bad argument #1 to 'theory.expected_r0_squared' (positive finite number expected, got -1)"},
  -- theory: deep
  {"ntklab.theory.deep_rate", function() theory.deep_rate(0.1, 1, 1) end, "bad argument #3 to 'theory.deep_rate' (integer >= 2 expected, got 1)"},
  {"ntklab.theory.deep_c_early", function() theory.deep_c_early(1, 1, 3, 2) end, "bad argument #4 to 'theory.deep_c_early' (0 < c0 < s expected, got c0 = 2, s = 1)"},
  {"ntklab.theory.deep_c", function() theory.deep_c({2, 1}, 1, 3, 0.1) end, "bad argument #1 to 'theory.deep_c' (ascending times expected, index 2 (1) < index 1 (2))"},
  {"ntklab.theory.deep_c", function() theory.deep_c({1, math.huge}, 1, 3, 0.1) end, "bad argument #1 to 'theory.deep_c' (finite non-negative times expected, got inf at index 2)"},
  {"ntklab.theory.deep_c", function() theory.deep_c("1", 1, 3, 0.1) end, "bad argument #1 to 'theory.deep_c' (times expected (table or tensor), got string)"},
  {"ntklab.theory.deep_c", function() theory.deep_c(1, 1, 3.5, 0.1) end, "bad argument #3 to 'theory.deep_c' (integer expected, got 3.5)"},
  {"ntklab.theory.deep_time", function() theory.deep_time(1, 1, 3, 0.1) end, "bad argument #1 to 'theory.deep_time' (c0 <= c < s expected, got c = 1 (c0 = 0.1, s = 1))"},
  {"ntklab.theory.t_half", function() theory.t_half(1, 3, 0.1, 1.5) end, "bad argument #4 to 'theory.t_half' (level in (c0/s, 1) expected, got 1.5 (c0/s = 0.1))"},
  {"ntklab.theory.t_half", function() theory.t_half(1, 3, nil) end, "bad argument #3 to 'theory.t_half' (number expected, got nil)"},
  {"ntklab.theory.t_half_asymptotic", function() theory.t_half_asymptotic(0.1, 2, nil) end, "bad argument #3 to 'theory.t_half_asymptotic' (number expected, got nil)"},
  -- theory: kernels and alignment
  {"ntklab.theory.final_ntk", function() theory.final_ntk(1, 2, {0, 0}) end, "bad argument #3 to 'theory.final_ntk' (non-zero finite vector expected)"},
  {"ntklab.theory.final_ntk", function() theory.final_ntk(1, 2, {}) end, "bad argument #3 to 'theory.final_ntk' (non-empty vector beta expected)"},
  {"ntklab.theory.final_ntk_gram", function() theory.final_ntk_gram(1, 2, {1, 0}, {{1, 2, 3}}) end, "bad argument #4 to 'theory.final_ntk_gram' (X has 3 columns, beta has 2 entries)"},
  {"ntklab.theory.final_ntk_gram", function() theory.final_ntk_gram(1, 2, {1, 0}, {{1, 2}}, {{1}}) end, "bad argument #5 to 'theory.final_ntk_gram' (X' has 1 columns, beta has 2 entries)"},
  {"ntklab.theory.final_ntk_gram", function() theory.final_ntk_gram(1, 2, {1, 0}, {}) end, "bad argument #4 to 'theory.final_ntk_gram' (non-empty matrix X expected)"},
  {"ntklab.theory.max_alignment", function() theory.max_alignment(2, 0) end, "bad argument #2 to 'theory.max_alignment' (integer >= 1 expected, got 0)"},
  {"ntklab.theory.initial_alignment", function() theory.initial_alignment("3") end, "bad argument #1 to 'theory.initial_alignment' (integer expected, got string)"},
  {"ntklab.theory.transfer_error", function() theory.transfer_error(0, 3, 1, 0.5, 0) end, "bad argument #1 to 'theory.transfer_error' (positive finite number expected, got 0)"},
  {"ntklab.theory.transfer_error", function() theory.transfer_error(10, 3, -1, 0.5, 0) end, "bad argument #3 to 'theory.transfer_error' (A > -1 expected (a positive kernel), got -1)"},
  {"ntklab.theory.transfer_error", function() theory.transfer_error(10, 3, 1, 1.5, 0) end, "bad argument #4 to 'theory.transfer_error' (alpha in [-1, 1] expected, got 1.5)"},
  {"ntklab.theory.transfer_error", function() theory.transfer_error(10, 3, 1, 0.5, -1) end, "bad argument #5 to 'theory.transfer_error' (non-negative finite number expected, got -1)"},
  -- the unwhitened two-layer theory (lua/ntklab/theory_unwhitened.lua, merged into theory)
  {"ntklab.theory.unwhitened_constants", function() theory.unwhitened_constants({{1, 0}}, {1, 0}) end, "bad argument #1 to 'theory.unwhitened_constants' (Sigma: 2 rows expected, got 1)"},
  {"ntklab.theory.unwhitened_matrix", function() theory.unwhitened_matrix(1, 0) end, "bad argument #2 to 'theory.unwhitened_matrix' (positive finite number expected, got 0)"},
  {"ntklab.theory.unwhitened_eigenvalues", function() theory.unwhitened_eigenvalues("b") end, "bad argument #1 to 'theory.unwhitened_eigenvalues' (number expected, got string)"},
  {"ntklab.theory.unwhitened_early", function() theory.unwhitened_early(1, 1, 1, 1, {0, 0}) end, "bad argument #5 to 'theory.unwhitened_early' (r0: 5 overlaps expected, got 2)"},
  {"ntklab.theory.unwhitened_overlaps", function() theory.unwhitened_overlaps({1}, {{1, 2}}, {{1, 0}, {0, 1}}, {1}) end, "bad argument #2 to 'theory.unwhitened_overlaps' (W: row 1: 1 entries expected, got 2)"},
  {"ntklab.theory.unwhitened_spike", function() theory.unwhitened_spike({{1, 0}, {0, 1}}, {0 / 0, 1}) end, "bad argument #2 to 'theory.unwhitened_spike' (beta: entry 1 is"},
  {"ntklab.theory.min_norm_interpolator", function() theory.min_norm_interpolator({{1, 2}}, {1, 2}) end, "bad argument #2 to 'theory.min_norm_interpolator' (y: 1 entries expected (rows of X), got 2)"},
  -- theory: C outputs (theory_multi; spec 81 has more rows)
  {"ntklab.theory.teacher_modes", function() theory.teacher_modes{{0, 0}} end, "bad argument #1 to 'theory.teacher_modes' (non-zero teacher expected)"},
  {"ntklab.theory.mode_strengths", function() theory.mode_strengths({{1, 2}}, {{1, 0}, {0, 1}}) end, "bad argument #1 to 'theory.mode_strengths' ([2 x 2] expected (as beta), got [1 x 2])"},
  {"ntklab.theory.mode_c0", function() theory.mode_c0({{1, 0}}, {{1}}, {{1, 0, 0}}) end, "bad argument #3 to 'theory.mode_c0' (2 columns expected (as W1), got 3)"},
  {"ntklab.theory.mode_times", function() theory.mode_times({1}, 2, 0.6) end, "bad argument #3 to 'theory.mode_times' (0 < c0 < level * s expected for mode 1, got c0 = 0.6, s = 1)"},
  {"ntklab.theory.final_ntk_multi", function() theory.final_ntk_multi({{1, 0}}, 2, {{1, 0, 0}}) end, "bad argument #3 to 'theory.final_ntk_multi' (inputs X: 2 columns expected (as beta), got 3)"},
  {"ntklab.theory.final_nngp_multi", function() theory.final_nngp_multi({{1, 0}}, 2, -1, {{1, 0}}) end, "bad argument #3 to 'theory.final_nngp_multi' (integer >= 0 expected, got -1)"},
  {"ntklab.theory.final_alignment_multi", function() theory.final_alignment_multi({{1, 0}}, 2, "X") end, "bad argument #3 to 'theory.final_alignment_multi' (inputs X expected (table of rows or tensor), got string)"},
  -- analysis
  {"ntklab.analysis.compare", function() analysis.compare({1, 2}, {1}) end, "bad argument #2 to 'analysis.compare' (2 entries expected (as pred), got 1)"},
  {"ntklab.analysis.compare", function() analysis.compare({1, "2"}, {1, 2}) end, "bad argument #1 to 'analysis.compare' (number expected at index 2, got string)"},
  {"ntklab.analysis.compare", function() analysis.compare({{1, 2}, {3, 4}}, {1, 2}) end, "bad argument #1 to 'analysis.compare' (prediction vector expected, got a matrix with more than one column)"},
  {"ntklab.analysis.kernel_alignment", function() analysis.kernel_alignment({{1, 2}}, {1}) end, "bad argument #1 to 'analysis.kernel_alignment' (square matrix expected, got [1 x 2])"},
  {"ntklab.analysis.kernel_alignment", function() analysis.kernel_alignment({{1}}, {1, 2}) end, "bad argument #2 to 'analysis.kernel_alignment' (1 entries expected (as K), got 2)"},
  {"ntklab.analysis.kernel_alignment", function() analysis.kernel_alignment({{1}}, {1}, "yes") end, "bad argument #3 to 'analysis.kernel_alignment' (boolean expected, got string)"},
  {"ntklab.analysis.t_align90", function() analysis.t_align90(5) end, "bad argument #1 to 'analysis.t_align90' (trajectory table expected, got number)"},
  {"ntklab.analysis.t_align90", function() analysis.t_align90{t = {0, 1}} end, "bad argument #1 to 'analysis.t_align90' (trajectory field 'alignment' missing)"},
  {"ntklab.analysis.t_align90", function() analysis.t_align90{t = {0, 1}, alignment = {1}} end, "bad argument #1 to 'analysis.t_align90' (trajectory field 'alignment' has 1 records, t has 2)"},
  {"ntklab.analysis.t_align90", function() analysis.t_align90(traj, 1.5) end, "bad argument #2 to 'analysis.t_align90' (fraction in (0, 1] expected, got 1.5)"},
  {"ntklab.analysis.t_dir90", function() analysis.t_dir90(traj) end, "bad argument #1 to 'analysis.t_dir90' (trajectory field 'direction' missing)"},
  {"ntklab.analysis.informative", function() analysis.informative{t = {0, 1}} end, "bad argument #1 to 'analysis.informative' (trajectory field 'alignment' missing)"},
  {"ntklab.analysis.t_kernel10", function() analysis.t_kernel10{t = {0, 0}, kernel_norm = {1, 2}} end, "bad argument #1 to 'analysis.t_kernel10' (trajectory t must be strictly ascending (t[1] = 0, t[2] = 0))"},
  {"ntklab.analysis.t_kernel10", function() analysis.t_kernel10{t = {0, 1}, kernel_norm = {1, 0 / 0}} end, "bad argument #1 to 'analysis.t_kernel10' (trajectory field 'kernel_norm' is NaN at record 2)"},
  {"ntklab.analysis.t_kernel10", function() analysis.t_kernel10(traj, nil, "start") end, "bad argument #3 to 'analysis.t_kernel10' ('zero' or 'initial' expected, got 'start')"},
  {"ntklab.analysis.t_half", function() analysis.t_half({t = {0, 1}, loss = {1, "a"}}) end, "bad argument #1 to 'analysis.t_half' (trajectory field 'loss': number expected at index 2, got string)"},
  {"ntklab.analysis.t_half", function() analysis.t_half(traj, "half") end, "bad argument #2 to 'analysis.t_half' (number expected, got string)"},
  {"ntklab.analysis.readouts", function() analysis.readouts{t = {0}, alignment = {1}, loss = {1}} end, "bad argument #1 to 'analysis.readouts' (trajectory field 'kernel_norm' missing)"},
  {"ntklab.analysis.verdict", function() analysis.verdict(nil) end, "bad argument #1 to 'analysis.verdict' (table expected, got nil)"},
  {"ntklab.analysis.verdict", function() analysis.verdict{t = {1}} end, "bad argument #1 to 'analysis.verdict' (trajectory field 'alignment' missing)"},
  {"ntklab.analysis.verdict", function() analysis.verdict(traj, {final_ntk = {}}) end, "bad argument #2 to 'analysis.verdict' (predictors.final_ntk.rel_err (number) expected)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (non-empty array of snapshots expected)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({snap}, {1, 2}, {0}, {0}) end, "bad argument #3 to 'analysis.path_kernel_predictor' (2 entries expected (as y), got 1)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({{t = 1, K = {{1}}, k = {{1}}}}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (the first snapshot must be at t = 0, got 1)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({snap, snap}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (snapshot times must ascend strictly (snapshot 2 at 0))"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({{t = 0, K = {{1, 2}}, k = {{1}}}}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (snapshot 1: K is [1 x 2], [1 x 1] expected)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({{t = 0, K = {{1}}, k = {{1}, {2}}}}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (snapshot 1: k is [2 x 1], [1 x 1] expected)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({{t = 0, K = "K", k = {{1}}}}, {1}, {0}, {0}) end, "bad argument #1 to 'analysis.path_kernel_predictor' (snapshot 1: K: K expected (table of rows or tensor), got string)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({snap}, {1}, {0}, {0}, {eta = 0}) end, "bad argument #5 to 'analysis.path_kernel_predictor' (field 'eta': positive number expected, got 0)"},
  {"ntklab.analysis.path_kernel_predictor", function() analysis.path_kernel_predictor({snap}, {1}, {0}, {0}, {tail = 1}) end, "bad argument #5 to 'analysis.path_kernel_predictor' (field 'tail': boolean expected, got number)"},
  -- output
  {"ntklab.output.mkdir_p", function() output.mkdir_p(nil) end, "bad argument #1 to 'output.mkdir_p' (string expected, got nil)"},
  {"ntklab.output.mkdir_p", function() output.mkdir_p("") end, "bad argument #1 to 'output.mkdir_p' (non-empty path expected)"},
  {"ntklab.output.absolute", function() output.absolute("") end, "bad argument #1 to 'output.absolute' (non-empty path expected)"},
  {"ntklab.output.clean_temp", function() output.clean_temp(false) end, "bad argument #1 to 'output.clean_temp' (string expected, got boolean)"},
  {"ntklab.output.write_atomic", function() output.write_atomic("/tmp/x", 5) end, "bad argument #2 to 'output.write_atomic' (string or function expected, got number)"},
  {"ntklab.output.write_atomic", function() output.write_atomic(nil, "x") end, "bad argument #1 to 'output.write_atomic' (string expected, got nil)"},
  {"ntklab.output.array", function() output.array("x") end, "bad argument #1 to 'output.array' (table expected, got string)"},
  {"ntklab.output.number_text", function() output.number_text("1") end, "bad argument #1 to 'output.number_text' (number expected, got string)"},
  {"ntklab.output.encode_json", function() output.encode_json({}, 1) end, "bad argument #2 to 'output.encode_json' (boolean expected, got number)"},
  {"ntklab.output.write_json", function() output.write_json("/tmp/never-written.json", {f = print}) end, "bad argument #2 to 'output.write_json' (cannot encode a function at $.f)"},
  {"ntklab.output.write_json", function() output.write_json(1, {}) end, "bad argument #1 to 'output.write_json' (string expected, got number)"},
  {"ntklab.output.read_json", function() output.read_json() end, "bad argument #1 to 'output.read_json' (string expected, got nil)"},
  {"ntklab.output.write_csv", function() output.write_csv("/tmp/x.csv", {}, {}) end, "bad argument #2 to 'output.write_csv' (non-empty array of column names expected)"},
  {"ntklab.output.write_csv", function() output.write_csv("/tmp/x.csv", {"a", 2}, {}) end, "bad argument #2 to 'output.write_csv' (column name 2: string expected, got number)"},
  {"ntklab.output.write_csv", function() output.write_csv("/tmp/x.csv", {"a"}, "rows") end, "bad argument #3 to 'output.write_csv' (table expected, got string)"},
  {"ntklab.output.write_csv", function() output.write_csv("/tmp/x.csv", {"a", "b"}, {a = {1}}) end, "bad argument #3 to 'output.write_csv' (column 'b' missing)"},
  {"ntklab.output.write_csv", function() output.write_csv("/tmp/x.csv", {"a", "b"}, {a = {1}, b = {1, 2}}) end, "bad argument #3 to 'output.write_csv' (column 'b' has 2 entries, column 'a' has 1)"},
  {"ntklab.output.read_csv", function() output.read_csv({}) end, "bad argument #1 to 'output.read_csv' (string expected, got table)"},
  {"ntklab.output.plot", function() output.plot() end, "bad argument #1 to 'output.plot' (table expected, got nil)"},
  {"ntklab.output.plot", function() output.plot{series = series} end, "bad argument #1 to 'output.plot' (field 'file' (string) expected)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = {}} end, "bad argument #1 to 'output.plot' (field 'series': non-empty array expected)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = {{x = {1, 2}, y = {1}}}} end, "bad argument #1 to 'output.plot' (series 1: x has 2 entries, y has 1)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = {{x = {1}, y = {"a"}}}} end, "bad argument #1 to 'output.plot' (series 1: y: number expected at index 1, got string)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = {{x = {1}, y = {1}, style = "bars"}}} end, "bad argument #1 to 'output.plot' (series 1: style 'bars' unknown"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = series, logx = 1} end, "bad argument #1 to 'output.plot' (field 'logx': boolean expected, got number)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = series, width = 2.5} end, "bad argument #1 to 'output.plot' (field 'width': integer in [16, 10000] expected, got 2.5)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = series, vlines = {"x"}} end, "bad argument #1 to 'output.plot' (vline 1: number or {x = number, title = string} expected)"},
  {"ntklab.output.plot", function() output.plot{file = "p.png", series = series, key = "top; system('ls')"} end, "bad argument #1 to 'output.plot' (field 'key': gnuplot position words expected (e.g. 'top left'), got 'top; system('ls')')"},
  {"ntklab.output.figure", function() output.figure() end, "bad argument #1 to 'plot.figure' (table expected, got nil)"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", panels = {}} end, "bad argument #1 to 'plot.figure' (field 'panels': non-empty array of panels expected)"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", panels = {{series = series}, {series = {}}}} end, "bad argument #1 to 'plot.figure' (panel 2: field 'series': non-empty array expected)"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", cols = 1, rows = 1, panels = {{series = series}, {series = series}}} end, "bad argument #1 to 'plot.figure' (2 panels do not fit a 1 x 1 layout)"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", panels = {{heatmap = {{1, 2}, {3}}}}} end, "bad argument #1 to 'plot.figure' (heatmap:"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", panels = {{series = {{x = {1}, y = {1}, color = "#12"}}}}} end, "bad argument #1 to 'plot.figure' (series 1: color: '#rrggbb' or a gnuplot colour name expected, got #12)"},
  {"ntklab.output.figure", function() output.figure{file = "f.png", panels = {{series = {{x = {1}, y = {1}, style = "errorbars"}}}}} end, "bad argument #1 to 'plot.figure' (series 1: style 'errorbars' needs dy)"},
  {"ntklab.output.progress", function() output.progress("x") end, "bad argument #1 to 'output.progress' (table expected, got string)"},
  {"ntklab.output.progress", function() output.progress{total = 0} end, "bad argument #1 to 'output.progress' (field 'total': positive number expected, got 0)"},
  {"ntklab.output.progress", function() output.progress{isatty = true} end, "bad argument #1 to 'output.progress' (field 'isatty': function expected, got boolean)"},
  {"ntklab.output.progress", function() output.progress{interval = -1} end, "bad argument #1 to 'output.progress' (field 'interval': non-negative number expected, got -1)"},
  {"ntklab.output.help_text", function() output.help_text{options = {{name = "help", type = "boolean"}}} end, "bad argument #1 to 'output.help_text' (spec.options[1]: 'help' is reserved)"},
  {"ntklab.output.parse_args", function() output.parse_args({options = {{name = "a", type = "float"}}}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options[1]: type of 'a': number, integer, string, boolean or choice expected, got float)"},
  {"ntklab.output.parse_args", function() output.parse_args({options = {{name = "a", type = "integer", default = 0.5}}}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options[1]: default of 'a' is not a valid integer: 0.5)"},
  {"ntklab.output.parse_args", function() output.parse_args({options = {{name = "a", type = "choice"}}}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options[1]: choices of 'a': non-empty array expected)"},
  {"ntklab.output.parse_args", function() output.parse_args({options = {{name = "a", type = "string"}, {name = "a", type = "string"}}}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options[2]: duplicate option 'a')"},
  {"ntklab.output.parse_args", function() output.parse_args({options = {{name = "1a", type = "string"}}}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options[1]: name (letters, digits, _) expected, got 1a)"},
  {"ntklab.output.parse_args", function() output.parse_args({}, {}) end, "bad argument #1 to 'output.parse_args' (spec.options: array of options expected, got nil)"},
  {"ntklab.output.parse_args", function() output.parse_args(spec, "--n 1") end, "bad argument #2 to 'output.parse_args' (table expected, got string)"},
  {"ntklab.output.parse_args", function() output.parse_args(spec, {"--n", 5}) end, "bad argument #2 to 'output.parse_args' (string expected at index 2, got number)"},
  {"ntklab.output.cli", function() output.cli(spec, nil) end, "bad argument #2 to 'output.cli' (table expected, got nil)"},
}

-- The kernel closure returned by final_ntk is reachable only through a call: not a registry name.
local closure_cases = {
  {"final_ntk kernel", function() kernel({1, 2, 3}, {1, 2}) end, "bad argument #1 to 'final_ntk kernel' (2 entries expected, got 3)"},
  {"final_ntk kernel", function() kernel({1, 2}) end, "bad argument #2 to 'final_ntk kernel' (vector x' expected (table or tensor), got nil)"},
}

describe("bad arguments", function()
  bad_args.cases(it, cases)
  local all = {}
  for _, case in ipairs(cases) do all[#all + 1] = case end
  for _, case in ipairs(closure_cases) do all[#all + 1] = case end
  for _, case in ipairs(all) do
    local name, call, expected = case[1], case[2], case[3]
    it(name .. " blames its caller: " .. expected:match("%((.*)"), function()
      local ok, err = pcall(call)
      assert.is_false(ok, "no error")
      assert.is_string(err)
      assert.is_truthy(err:find(expected, 1, true), "got: " .. err)
      -- blamed on the caller: the position is this spec file, not the module
      assert.matches("^[^:]*45%-bad_arguments_spec%.lua:%d+: bad argument", err)
    end)
  end

  -- spec/99 does this for whatever require "ntklab" exposes; this holds for the modules alone.
  it("covers every public function of the three modules", function()
    local covered = {}
    for _, case in ipairs(cases) do covered[case[1]] = true end
    for modname, mod in pairs{theory = theory, analysis = analysis, output = output} do
      for fname, value in pairs(mod) do
        if type(value) == "function" then
          assert.is_true(covered["ntklab." .. modname .. "." .. fname], modname .. "." .. fname .. " has no bad-argument case")
        end
      end
    end
  end)
end)
