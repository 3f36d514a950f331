--- ntklab.output: one table for what scripts write and how they talk to the command line. It
-- holds nothing of its own; each concept lives in its module:
--   ntklab.fs        mkdir_p, absolute, write_atomic, clean_temp (atomic replacement, paths)
--   ntklab.json      encode_json, write_json, read_json, array, number_text
--   ntklab.csv       write_csv, read_csv
--   ntklab.plot      plot, figure (PNG and SVG through gnuplot: panels, heat maps)
--   ntklab.progress  progress (a live line on a terminal, plain lines in logs)
--   ntklab.cli       parse_args, help_text, cli (options declared as data, --help, did you mean)
-- The paper's panels (Figure 1a, 1c) live next to the experiment that draws them:
-- experiments/panels/silent_alignment.lua. Experiments themselves run through
-- ntklab.experiment (one runner) and ntklab.sweep (grids of runs).

-- Each module with the names it publishes here, under the same names.
local published = {
  {"ntklab.fs", {"mkdir_p", "absolute", "write_atomic", "clean_temp"}},
  {"ntklab.json", {"number_text", "array", "encode_json", "write_json", "read_json"}},
  {"ntklab.csv", {"write_csv", "read_csv"}},
  {"ntklab.plot", {"plot", "figure"}},
  {"ntklab.cli", {"help_text", "parse_args", "cli"}},
}

local output = {progress = require("ntklab.progress").new}
for _, entry in ipairs(published) do
  local module = require(entry[1])
  for _, name in ipairs(entry[2]) do output[name] = assert(module[name], name) end
end
return output
