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
local fs = require "ntklab.fs"
local json = require "ntklab.json"
local csv = require "ntklab.csv"
local plot = require "ntklab.plot"
local progress = require "ntklab.progress"
local cli = require "ntklab.cli"

return {
  mkdir_p = fs.mkdir_p, absolute = fs.absolute, write_atomic = fs.write_atomic,
  clean_temp = fs.clean_temp,
  number_text = json.number_text, array = json.array, encode_json = json.encode_json,
  write_json = json.write_json, read_json = json.read_json,
  write_csv = csv.write_csv, read_csv = csv.read_csv,
  plot = plot.plot, figure = plot.figure,
  progress = progress.new,
  help_text = cli.help_text, parse_args = cli.parse_args, cli = cli.cli,
}
