/**
 * The programs that keep a REPL's state. Each reads one JSON request per line on stdin ({ id, code }) and
 * answers on fd 3 ({ id, output, value, error }), so what the code prints cannot be mistaken for an answer;
 * then it prints an end mark on stdout, so what the code wrote there directly is attributed to its request.
 */
/**
 * Node: evaluation is node:repl's own (top-level await, declarations kept between calls, the last
 * expression's value) on a REPL server nobody types into. Its evaluator reports an error only by writing
 * "Uncaught …" to the server's output, so that stream is where errors are read; what the code logs goes
 * to the request's own buffer.
 */
export const NODE_DRIVER = String.raw`
const repl = require('node:repl'), util = require('node:util'), fs = require('node:fs'), readline = require('node:readline');
const { PassThrough } = require('node:stream');
const out = [];
const say = (...a) => out.push(util.format(...a));
const short = (text) => String(text).split('\n    at ').slice(0, 3).join('\n    at ').trim();
const errors = new PassThrough();
const server = repl.start({ input: new PassThrough(), output: errors, prompt: '', terminal: false, useColors: false });
server.context.console = { log: say, info: say, warn: say, error: say, debug: say, dir: (o) => out.push(util.inspect(o)) };
let failed;
errors.on('data', (d) => failed && failed(String(d)));
const evaluate = (code) => new Promise((resolve) => {
  let settled = false;
  const done = (r) => { if (!settled) { settled = true; failed = undefined; resolve(r); } };
  failed = (text) => done({ error: short(text.replace(/^Uncaught /, '')) });
  server.eval(code + '\n', server.context, 'repl', (err, value) => {
    // Incomplete input comes back as a Recoverable wrapping the SyntaxError.
    if (err) done({ error: short((err.err && err.err.stack) || err.stack || err) });
    else done({ value });
  });
});
const queue = [];
let busy = false;
async function next() {
  if (busy || !queue.length) return;
  busy = true;
  const { id, code } = queue.shift();
  out.length = 0;
  let { value, error } = await evaluate(code);
  if (!error && value && typeof value.then === 'function') {
    try { value = await value; } catch (e) { error = short((e && e.stack) || e); }
  }
  fs.writeSync(3, JSON.stringify({ id, output: out.join('\n'), value: value === undefined ? undefined : util.inspect(value, { depth: 4 }), error }) + '\n');
  fs.writeSync(1, '\u0000icode-repl-end-' + id + '\u0000\n');
  busy = false;
  next();
}
readline.createInterface({ input: process.stdin }).on('line', (line) => { queue.push(JSON.parse(line)); next(); });
`;

export const PYTHON_DRIVER = String.raw`
import ast, contextlib, io, json, os, sys, traceback
scope = {'__name__': '__main__'}
answers = os.fdopen(3, 'w')
for line in sys.stdin:
    request = json.loads(line)
    buffer = io.StringIO()
    value = None
    error = None
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            tree = ast.parse(request['code'], '<repl>', 'exec')
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, '<repl>', 'exec'), scope)
            if last is not None:
                result = eval(compile(ast.Expression(last.value), '<repl>', 'eval'), scope)
                value = None if result is None else repr(result)
    except BaseException:
        # Only the code's own frames: the driver's are noise.
        te = traceback.TracebackException(*sys.exc_info())
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename == '<repl>'])
        error = ''.join(te.format())
    answers.write(json.dumps({'id': request['id'], 'output': buffer.getvalue(), 'value': value, 'error': error}) + '\n')
    answers.flush()
    sys.stdout.flush()
    os.write(1, ('\0icode-repl-end-%d\0\n' % request['id']).encode())
`;
