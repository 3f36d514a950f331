--- ntklab.csv: CSV files (RFC 4180 quoting; numbers round-trip; NaN as nan, infinities as
-- inf/-inf, nil as an empty field), written atomically, and read back as columns.
-- Published as ntklab.output.write_csv (error messages name output.f).
local check = require "ntklab.argcheck"
check.register()
local fs = require "ntklab.fs"
local json = require "ntklab.json"

local csv = {}

local fmt = string.format
local number_text = json.number_text_exact

-- Raised inside the writer; write_csv turns it into a bad-argument error.
local function encode_error(msg) error({ntklab_encode_error = msg}, 0) end

local function csv_field(v, where)
  local tv = type(v)
  if tv == "number" then
    if v ~= v then return "nan" end
    if v == math.huge then return "inf" end
    if v == -math.huge then return "-inf" end
    return number_text(v)
  end
  if tv == "string" then
    if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
    return v
  end
  if tv == "boolean" then return tostring(v) end
  if v == nil then return "" end
  encode_error(fmt("%s: cannot write a %s", where, check.typename(v)))
end

--- Writes a CSV file atomically: a header line with the column names, then one line per row.
-- rows is either row-oriented, an array whose rows are arrays (positional, in column order) or
-- records keyed by column name; or column-oriented, a table mapping each column name to an array
-- (all of equal length), as a recorded trajectory is. Columns may be tensors (:totable()).
-- Returns true, or nil, msg.
function csv.write_csv(path, columns, rows)
  local f = "output.write_csv"
  check.string(path, 1, f)
  check.table(columns, 2, f)
  if #columns == 0 then check.fail(2, f, "non-empty array of column names expected") end
  for i, c in ipairs(columns) do
    if type(c) ~= "string" then
      check.fail(2, f, fmt("column name %d: string expected, got %s", i, check.typename(c)))
    end
  end
  check.table(rows, 3, f)
  local nrows, get
  if rows[1] ~= nil or next(rows) == nil then
    nrows = #rows
    get = function(i, j)
      local row = rows[i]
      if type(row) ~= "table" then encode_error(fmt("row %d: table expected, got %s", i, check.typename(row))) end
      if row[1] ~= nil then return row[j] end
      return row[columns[j]]
    end
  else
    local cols = {}
    for j, name in ipairs(columns) do
      local c = rows[name]
      if c == nil then check.fail(3, f, fmt("column '%s' missing", name)) end
      c = check.plain(c)
      if type(c) ~= "table" then check.fail(3, f, fmt("column '%s': array expected", name)) end
      if j > 1 and #c ~= #cols[1] then
        check.fail(3, f, fmt("column '%s' has %d entries, column '%s' has %d", name, #c, columns[1], #cols[1]))
      end
      cols[j] = c
    end
    nrows = #cols[1]
    get = function(i, j) return cols[j][i] end
  end
  local ncol = #columns
  local ok, res, msg = pcall(fs.atomic, path, function(emit)
    local fields = {}
    for j = 1, ncol do fields[j] = csv_field(columns[j], "header") end
    emit(table.concat(fields, ",") .. "\n")
    for i = 1, nrows do
      for j = 1, ncol do fields[j] = csv_field(get(i, j), fmt("row %d, column '%s'", i, columns[j])) end
      emit(table.concat(fields, ",") .. "\n")
    end
  end)
  if not ok then
    if type(res) == "table" and res.ntklab_encode_error then check.fail(3, f, res.ntklab_encode_error) end
    error(res, 0)
  end
  return res, msg
end


-- One field's text as a value: numbers (and nan, inf, -inf) as numbers, the rest as text.
local specials = {nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge}
local function value_of(text)
  if specials[text] then return specials[text] end
  return tonumber(text) or text
end

--- Reads a CSV file as write_csv writes it (a header line, RFC 4180 quoting). Returns
-- header (array of column names) and columns (name -> array of values: numbers where the text
-- is a number, nan or +-inf, empty fields as "", other text as strings), or nil, msg when the
-- file cannot be read or is not rectangular.
function csv.read_csv(path)
  check.string(path, 1, "output.read_csv")
  local fh, err = io.open(path, "rb")
  if not fh then return nil, err end
  local text = fh:read("a")
  fh:close()
  local rows, row, field, i, n = {}, {}, {}, 1, #text
  local quoted_field = false
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' and #field == 0 and not quoted_field then
      local j = i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then return nil, fmt("%s: unterminated quoted field in line %d", path, #rows + 1) end
        field[#field + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          field[#field + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      quoted_field = true
    elseif c == "," then
      row[#row + 1] = {table.concat(field), quoted_field}
      field, quoted_field = {}, false
      i = i + 1
    elseif c == "\n" or c == "\r" then
      row[#row + 1] = {table.concat(field), quoted_field}
      rows[#rows + 1] = row
      row, field, quoted_field = {}, {}, false
      i = i + ((c == "\r" and text:sub(i + 1, i + 1) == "\n") and 2 or 1)
    else
      local j = text:find('[,\r\n]', i) or n + 1
      field[#field + 1] = text:sub(i, j - 1)
      i = j
    end
  end
  if #field > 0 or #row > 0 then
    row[#row + 1] = {table.concat(field), quoted_field}
    rows[#rows + 1] = row
  end
  if #rows == 0 then return nil, path .. ": empty file, a header line expected" end
  local header, columns = {}, {}
  for j, cell in ipairs(rows[1]) do
    header[j] = cell[1]
    columns[cell[1]] = {}
  end
  for r = 2, #rows do
    if #rows[r] ~= #header then
      return nil, fmt("%s: line %d has %d fields, the header %d", path, r, #rows[r], #header)
    end
    for j, cell in ipairs(rows[r]) do
      local col = columns[header[j]]
      col[#col + 1] = cell[2] and cell[1] or value_of(cell[1])
    end
  end
  return header, columns
end

return csv
