//! Server-side JavaScript, where MongoDB still has it: `$where`, `$function` and
//! `$accumulator`. Functions run on QuickJS (through `rquickjs`) in a [`Scope`]: one
//! runtime for one parsed expression, so for one command, created on first use and
//! dropped with the expression. A scope holds no database handle and no host
//! function: a function sees its arguments (and `this`), MongoDB's shell types and
//! helpers (`prelude.js`), and nothing else. Each call may run for
//! [`CALL_TIME_LIMIT`], each runtime may allocate [`HEAP_LIMIT`]; past either the
//! call fails. Calls on one scope take turns.
//!
//! Values cross between BSON and JavaScript in `convert.rs`: numbers come back as
//! doubles (MongoDB's rule: a JavaScript number is a double), 64-bit integers as
//! `NumberLong`, and the other BSON types as the shell's objects.

mod convert;
mod heap;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Bson, Document};
use rquickjs::convert::Coerced;
use rquickjs::function::Args;
use rquickjs::{Array, Context, Ctx, Function, Object, Runtime, Value};

use crate::error::{Error, ErrorCode, Result};

/// How long one call may run: MongoDB's `internalQueryJavaScriptFnTimeoutMillis`
/// (60 seconds).
pub const CALL_TIME_LIMIT: Duration = Duration::from_secs(60);

/// What one scope's runtime may allocate (`heap.rs` holds it to that). MongoDB
/// allows aggregation's JavaScript 100 MB per scope; branchdb keeps every scope
/// smaller so that many at once stay bounded.
pub const HEAP_LIMIT: usize = 64 << 20;

/// The deepest a function may nest JavaScript calls, in bytes of native stack.
const STACK_LIMIT: usize = 256 << 10;

/// The global that holds the conversion helpers `prelude.js` returns (frozen, and
/// neither writable nor configurable).
const HELPERS: &str = "__branchdb";

/// The global array of the scope's compiled functions.
const FUNCTIONS: &str = "__branchdbFunctions";

/// The JavaScript environment of one command.
pub struct Scope {
    instance: Mutex<Option<Instance>>,
    time_limit: Duration,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope { instance: Mutex::default(), time_limit: CALL_TIME_LIMIT }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scope")
    }
}

/// A live runtime: its context, the functions compiled in it (by source, as indexes
/// into the [`FUNCTIONS`] array) and the deadline the interrupt handler checks.
struct Instance {
    // Dropped before the runtime it belongs to.
    context: Context,
    _runtime: Runtime,
    functions: HashMap<String, u32>,
    deadline: Arc<Mutex<Option<Instant>>>,
    time_limit: Duration,
    usage: Arc<heap::Usage>,
}

/// What a call gives back.
pub enum Returned {
    /// The returned value as BSON (`None` for `undefined`).
    Value(Option<Bson>),
    /// The returned value's truthiness (a `$where` predicate).
    Truthy(bool),
}

impl Scope {
    pub fn new() -> Arc<Scope> {
        Arc::new(Scope::default())
    }

    /// A scope whose calls may each run for `time_limit`.
    pub fn with_time_limit(time_limit: Duration) -> Arc<Scope> {
        Arc::new(Scope { instance: Mutex::default(), time_limit })
    }

    /// Compiles the function `source` (a syntax error fails here, before any call).
    pub fn compile(&self, source: &str) -> Result<()> {
        self.with_instance(|instance| instance.function(source).map(drop))
    }

    /// Runs the script `source` once, for what it defines (mapReduce's `emit`).
    pub fn run_script(&self, source: &str) -> Result<()> {
        self.with_instance(|instance| {
            let outcome = instance.context.with(|ctx| {
                let deadline = Mutex::new(None);
                sloppy::<Value>(&ctx, source).map(drop).map_err(|e| interpreter_error(&ctx, e, &deadline))
            });
            instance.settle(outcome)
        })
    }

    /// Sets the globals named by `values`' fields to its values (mapReduce's
    /// `scope`).
    pub fn set_globals(&self, values: &Document) -> Result<()> {
        self.with_instance(|instance| {
            let outcome = instance.context.with(|ctx| {
                let deadline = Mutex::new(None);
                let set = || -> rquickjs::Result<()> {
                    let helpers = convert::Helpers::of(&ctx)?;
                    for (name, value) in values {
                        ctx.globals().set(name.as_str(), convert::to_js(&ctx, &helpers, value)?)?;
                    }
                    Ok(())
                };
                set().map_err(|e| interpreter_error(&ctx, e, &deadline))
            });
            instance.settle(outcome)
        })
    }

    /// Calls the function `source` with `args`, and with `this` (and the global
    /// `obj`) bound to `this` when given, else to an empty object (MongoDB's
    /// receiver for `$function` and `$accumulator`); the returned value as BSON,
    /// `None` when it is `undefined`.
    pub fn call(&self, source: &str, this: Option<&Document>, args: &[Bson]) -> Result<Option<Bson>> {
        match self.run(source, this, args, false)? {
            Returned::Value(value) => Ok(value),
            Returned::Truthy(_) => unreachable!("asked for the value"),
        }
    }

    /// Calls the predicate `source` with `this` and `obj` bound to `doc`: whether
    /// what it returns is truthy, as JavaScript reads it.
    pub fn test(&self, source: &str, doc: &Document) -> Result<bool> {
        match self.run(source, Some(doc), &[], true)? {
            Returned::Truthy(truthy) => Ok(truthy),
            Returned::Value(_) => unreachable!("asked for the truthiness"),
        }
    }

    fn with_instance<T>(&self, f: impl FnOnce(&mut Instance) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.instance);
        if guard.is_none() {
            *guard = Some(Instance::new()?);
        }
        let instance = guard.as_mut().expect("created above");
        instance.time_limit = self.time_limit;
        f(instance)
    }

    fn run(&self, source: &str, this: Option<&Document>, args: &[Bson], truthy: bool) -> Result<Returned> {
        self.with_instance(|instance| instance.run(source, this, args, truthy))
    }
}

impl Instance {
    fn run(&mut self, source: &str, this: Option<&Document>, args: &[Bson], truthy: bool) -> Result<Returned> {
        let instance = self;
        let index = instance.function(source)?;
        *lock(&instance.deadline) = Some(Instant::now() + instance.time_limit);
        let deadline = Arc::clone(&instance.deadline);
        let outcome = instance.context.with(|ctx| {
            let helpers = convert::Helpers::of(&ctx).map_err(|e| interpreter_error(&ctx, e, &deadline))?;
            let call = || -> rquickjs::Result<Returned> {
                let functions: Array = ctx.globals().get(FUNCTIONS)?;
                let function: Function = functions.get(index as usize)?;
                let mut call = Args::new(ctx.clone(), args.len());
                match this {
                    Some(doc) => {
                        let this = convert::document_to_js(&ctx, &helpers, doc)?;
                        ctx.globals().set("obj", this.clone())?;
                        call.this(this)?;
                    }
                    None => call.this(Object::new(ctx.clone())?)?,
                }
                for arg in args {
                    call.push_arg(convert::to_js(&ctx, &helpers, arg)?)?;
                }
                let value: Value = function.call_arg(call)?;
                if truthy {
                    return Ok(Returned::Truthy(value.get::<Coerced<bool>>()?.0));
                }
                Ok(Returned::Value(convert::from_js(&helpers, value)?))
            };
            call().map_err(|e| interpreter_error(&ctx, e, &deadline))
        });
        *lock(&instance.deadline) = None;
        instance.settle(outcome)
    }

    /// `outcome`, or MongoDB's "Out of memory" (139) when the heap refused an
    /// allocation during the call (whatever QuickJS could still throw).
    fn settle<T>(&self, outcome: Result<T>) -> Result<T> {
        let refused = self.usage.take_refused();
        match outcome {
            Err(_) if refused => Err(Error::command(ErrorCode::JSInterpreterFailure, "Out of memory")),
            outcome => outcome,
        }
    }

    fn new() -> Result<Instance> {
        let (heap, usage) = heap::Heap::new(HEAP_LIMIT);
        let runtime = Runtime::new_with_alloc(heap)
            .map_err(|e| Error::command(ErrorCode::InternalError, format!("JavaScript runtime: {e}")))?;
        runtime.set_max_stack_size(STACK_LIMIT);
        let deadline: Arc<Mutex<Option<Instant>>> = Arc::default();
        let checked = Arc::clone(&deadline);
        runtime.set_interrupt_handler(Some(Box::new(move || lock(&checked).is_some_and(|at| Instant::now() >= at))));
        let context = Context::full(&runtime)
            .map_err(|e| Error::command(ErrorCode::InternalError, format!("JavaScript context: {e}")))?;
        context.with(|ctx| -> Result<()> {
            let install = || -> rquickjs::Result<()> {
                let helpers: Object = ctx.eval(include_str!("prelude.js"))?;
                let freeze: Function = ctx.eval("Object.freeze")?;
                let helpers: Object = freeze.call((helpers,))?;
                let define: Function = ctx.eval(
                    "(name, value) => Object.defineProperty(globalThis, name, \
                     {value, enumerable: false, writable: false, configurable: false})",
                )?;
                define.call::<_, Value>((HELPERS, helpers))?;
                define.call::<_, Value>((FUNCTIONS, Array::new(ctx.clone())?))?;
                define.call::<_, Value>(("hex_md5", Function::new(ctx.clone(), hex_md5)?))?;
                Ok(())
            };
            install().map_err(|e| {
                Error::command(ErrorCode::InternalError, format!("JavaScript prelude: {e}: {:?}", ctx.catch()))
            })
        })?;
        usage.take_refused();
        Ok(Instance {
            context,
            _runtime: runtime,
            functions: HashMap::new(),
            deadline,
            time_limit: CALL_TIME_LIMIT,
            usage,
        })
    }

    /// The index of the function `source` compiles to, compiling it on first use.
    fn function(&mut self, source: &str) -> Result<u32> {
        if let Some(&index) = self.functions.get(source) {
            return Ok(index);
        }
        let index = self.functions.len() as u32;
        *lock(&self.deadline) = Some(Instant::now() + self.time_limit);
        let deadline = Arc::clone(&self.deadline);
        let compiled = self.context.with(|ctx| {
            let compile = || -> rquickjs::Result<bool> {
                let value = compile(&ctx, source)?;
                let Some(function) = value.as_function() else { return Ok(false) };
                let functions: Array = ctx.globals().get(FUNCTIONS)?;
                functions.set(index as usize, function.clone())?;
                Ok(true)
            };
            compile().map_err(|e| interpreter_error(&ctx, e, &deadline))
        });
        *lock(&self.deadline) = None;
        if !self.settle(compiled)? {
            return Err(Error::command(ErrorCode::Location31265, "The body function did not evaluate"));
        }
        self.functions.insert(source.to_owned(), index);
        Ok(index)
    }
}

/// The shell's `hex_md5(text)`: the MD5 digest of the text's UTF-8, in hex.
fn hex_md5(text: String) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compiles `source` into a function, as MongoDB's parser reads a body: `source`
/// itself when it is a function (`function (…) {…}` or an arrow); else a function
/// returning it when it is one expression (`$where: "this.a > 1"`); else a function
/// whose body it is, when it returns itself (`"return this.a > 1"`); else a function
/// returning the value of its last statement (`"var n = this.a; n > 1"`). A syntax
/// error is reported as the body's.
fn compile<'js>(ctx: &Ctx<'js>, source: &str) -> rquickjs::Result<Value<'js>> {
    let stripped = source.trim().trim_end_matches(';').trim_end();
    if stripped.starts_with("function") || stripped.starts_with("async") || looks_like_arrow(stripped) {
        return sloppy(ctx, format!("(\n{stripped}\n)"));
    }
    if let Ok(function) = sloppy::<Value>(ctx, format!("(function () {{ return (\n{stripped}\n); }})")) {
        return Ok(function);
    }
    ctx.catch();
    let body: Value = sloppy(ctx, format!("(function () {{\n{source}\n}})"))?;
    if source.contains("return") {
        return Ok(body);
    }
    sloppy(ctx, format!("(function () {{ return eval({}); }})", serde_json::Value::String(source.to_owned())))
}

/// Evaluates `source` in sloppy mode, as MongoDB's interpreter runs functions
/// (an assignment to an undeclared name makes a global).
fn sloppy<'js, V: rquickjs::FromJs<'js>>(ctx: &Ctx<'js>, source: impl Into<Vec<u8>>) -> rquickjs::Result<V> {
    let mut options = rquickjs::context::EvalOptions::default();
    options.strict = false;
    ctx.eval_with_options(source, options)
}

/// Whether `source` starts like an arrow function: `x =>` or `(…) =>`.
fn looks_like_arrow(source: &str) -> bool {
    let head = match source.find("=>") {
        Some(at) => source[..at].trim(),
        None => return false,
    };
    let plain = |name: &str| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    plain(head) || (head.starts_with('(') && head.ends_with(')') && !head[1..head.len() - 1].contains(['(', ')']))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// MongoDB's error for a function that failed: past the call's time limit 11601
/// `Interrupted`; an `Error` thrown, 139 `JSInterpreterFailure` with its name,
/// message and stack (out of memory as "Out of memory"); another object thrown, 139
/// with its text; a primitive thrown, 8 `UnknownError`; a value that does not
/// convert, the conversion's error.
fn interpreter_error(ctx: &Ctx<'_>, error: rquickjs::Error, deadline: &Mutex<Option<Instant>>) -> Error {
    if let Some(error) = convert::conversion_error(&error) {
        return error;
    }
    if !matches!(error, rquickjs::Error::Exception) {
        return Error::command(ErrorCode::JSInterpreterFailure, error.to_string());
    }
    let thrown = ctx.catch();
    if lock(deadline).is_some_and(|at| Instant::now() >= at) {
        return Error::command(ErrorCode::Interrupted, "JavaScript execution interrupted");
    }
    let Some(object) = thrown.as_object() else {
        let text = thrown.get::<Coerced<String>>().map(|c| c.0).unwrap_or_default();
        return Error::command(ErrorCode::UnknownError, format!("uncaught exception: {text}"));
    };
    let stack: String = object.get::<_, Option<String>>("stack").ok().flatten().unwrap_or_default();
    if thrown.is_error() {
        let name: String = object.get::<_, Option<String>>("name").ok().flatten().unwrap_or_else(|| "Error".into());
        let message: String = object.get::<_, Option<String>>("message").ok().flatten().unwrap_or_default();
        return Error::command(ErrorCode::JSInterpreterFailure, format!("{name}: {message} :\n{stack}"));
    }
    let text = thrown.get::<Coerced<String>>().map(|c| c.0).unwrap_or_default();
    Error::command(ErrorCode::JSInterpreterFailure, format!("uncaught exception: {text} :\n{stack}"))
}

#[cfg(test)]
mod tests;
