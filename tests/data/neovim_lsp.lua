-- Neovim's built-in language server client against `ssot-check server`: opens a file of the legacy
-- scenario, waits for its diagnostics, applies the quick fix of the banned import as Neovim applies
-- workspace edits, waits for that diagnostic to clear, and writes what it saw, one JSON line per fact.
-- Arguments (newline-separated, in SSOT_NVIM_ARGS): binary, workspace root, file, report path.
local binary, root, file, report = unpack(vim.split(vim.env.SSOT_NVIM_ARGS, "\n"))
local BANNED = "no-websocket-manager-factory-imports"
local lines = {}
local function log(kind, value) table.insert(lines, vim.fn.json_encode({ kind = kind, value = value })) end
local function code_of(d) return d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) end
local function codes()
  local seen = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do seen[#seen + 1] = code_of(d) end
  return seen
end

local ok, err = pcall(function()
  local id = vim.lsp.start_client({ name = "ssot-check", cmd = { binary, "server" }, root_dir = root })
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
  vim.lsp.buf_attach_client(0, id)
  log("received", vim.wait(30000, function() return vim.tbl_contains(codes(), BANNED) end, 50))
  local banned
  for _, d in ipairs(vim.diagnostic.get(0)) do
    log("diagnostic", { lnum = d.lnum, col = d.col, source = d.source, code = code_of(d), message = d.message })
    if code_of(d) == BANNED then banned = d end
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    range = {
      start = { line = banned.lnum, character = banned.col },
      ["end"] = { line = banned.end_lnum, character = banned.end_col },
    },
    context = { diagnostics = {}, only = { "quickfix" } },
  }
  for _, answer in pairs(vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 20000) or {}) do
    for _, action in ipairs(answer.result or {}) do
      log("action", action.title)
      if action.title:find("^Import from") then vim.lsp.util.apply_workspace_edit(action.edit, "utf-16") end
    end
  end
  log("line 4", vim.api.nvim_buf_get_lines(0, 3, 4, false)[1])
  log("cleared", vim.wait(30000, function() return not vim.tbl_contains(codes(), BANNED) end, 50))
  log("codes after", codes())
  vim.lsp.stop_client(id)
end)
if not ok then log("error", tostring(err)) end
vim.fn.writefile(lines, report)
vim.cmd("qa!")
