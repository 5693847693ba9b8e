"""The Terraform module in terraform/ read with python-hcl2 and evaluated for given variable values, as
far as a parity check needs: variables (defaults, validations), locals, resource arguments and counts.

Terraform itself cannot run here (it downloads its providers), so this evaluates the subset of HCL the
module is written in, and refuses anything else by name rather than guess: literals, strings with
`${...}` interpolations, tuples and objects, `var.` / `local.` / `data.` / resource references (with
`[0]` on a counted resource), `a ? b : c`, `== != && || ! < > <= >=`, for-expressions over tuples and
objects, and the functions in `FUNCTIONS`. A conditional evaluates only its chosen branch (Terraform
evaluates both but reports errors from the chosen one only: the same result for a valid module).

What a resource reference reads is the caller's choice (`References`): the parity check maps each
resource to template.yaml's logical ID, so a computed attribute (an ARN, a generated name) reads as
CloudFormation's would, written `${LogicalId}`, and any other attribute reads as the argument set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import hcl2
from lark import Token, Tree

HclTree = Tree[Token]


class HclError(ValueError):
    """Something in the module this evaluator does not support, or that does not evaluate."""


@dataclass(frozen=True)
class Block:
    """A block of a .tf file: its type, labels, attributes (unevaluated) and nested blocks."""

    kind: str
    labels: tuple[str, ...]
    attributes: Mapping[str, HclTree]
    blocks: tuple[Block, ...]
    where: str  # "terraform/iam.tf resource aws_iam_role.monitor"

    def nested(self, kind: str) -> tuple[Block, ...]:
        return tuple(block for block in self.blocks if block.kind == kind)


@dataclass(frozen=True)
class Module:
    directory: Path
    variables: Mapping[str, Block]
    locals: Mapping[str, HclTree]
    resources: Mapping[str, Block]  # "aws_iam_role.monitor" -> its block
    data: Mapping[str, Block]
    outputs: Mapping[str, Block]
    files: tuple[str, ...] = field(default=())


def _children(tree: HclTree) -> list[HclTree | Token]:
    """A node's children without the newlines and comments between them."""
    return [c for c in tree.children if not (isinstance(c, Tree) and c.data == "new_line_or_comment")]


def _trees(tree: HclTree) -> list[HclTree]:
    return [c for c in _children(tree) if isinstance(c, Tree)]


def _name(node: HclTree | Token) -> str:
    """An identifier's or a plain string's text (block types and labels, attribute names)."""
    if isinstance(node, Token):
        return str(node)
    if node.data == "identifier":
        return str(node.children[0])
    if node.data == "string":
        parts = [c for c in node.children if isinstance(c, Tree)]
        if all(isinstance(p.children[0], Token) for p in parts):
            return "".join(_unescape(str(p.children[0])) for p in parts)
    if node.data in ("keyword", "literal_value"):
        return str(node.children[0])
    raise HclError(f"{node.data} where a name or a plain string belongs")


def _block(tree: HclTree, source: str) -> Block:
    heads = [c for c in _children(tree) if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE"))]
    body = heads.pop()
    if not isinstance(body, Tree):
        raise HclError(f"{source}: a block without a body")
    kind, labels = _name(heads[0]), tuple(_name(h) for h in heads[1:])
    attributes: dict[str, HclTree] = {}
    blocks: list[Block] = []
    where = f"{source} {kind} {'.'.join(labels)}".rstrip()
    for item in _trees(body):
        if item.data == "attribute":
            parts = _trees(item)
            attributes[_name(parts[0])] = parts[-1]
        elif item.data == "block":
            blocks.append(_block(item, where))
    return Block(kind, labels, attributes, tuple(blocks), where)


def read_module(directory: Path) -> Module:
    """Every *.tf file of the directory, parsed (python-hcl2) and sorted into variables, locals, ..."""
    variables: dict[str, Block] = {}
    local_values: dict[str, HclTree] = {}
    resources: dict[str, Block] = {}
    data: dict[str, Block] = {}
    outputs: dict[str, Block] = {}
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise HclError(f"no .tf file in {directory}")
    for path in files:
        source = f"{directory.name}/{path.name}"
        try:
            tree = hcl2.parses_to_tree(path.read_text())
        except Exception as error:  # python-hcl2 raises lark's errors: name the file
            raise HclError(f"{source} does not parse: {error}") from error
        for node in _trees(_trees(tree)[0]):
            if node.data != "block":
                raise HclError(f"{source}: a top-level attribute, which Terraform does not allow")
            block = _block(node, source)
            if block.kind == "variable":
                variables[block.labels[0]] = block
            elif block.kind == "locals":
                for name, value in block.attributes.items():
                    if name in local_values:
                        raise HclError(f"{source}: local.{name} is defined twice")
                    local_values[name] = value
            elif block.kind == "resource":
                resources[".".join(block.labels)] = block
            elif block.kind == "data":
                data[".".join(block.labels)] = block
            elif block.kind == "output":
                outputs[block.labels[0]] = block
    return Module(directory, variables, local_values, resources, data, outputs, tuple(p.name for p in files))


# ------------------------------------------------------------------------------------------ values
def _unescape(text: str) -> str:
    """HCL's string escapes (and `$${` / `%%{`, the literal `${` / `%{`)."""
    escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in escapes:
            return escapes[code]
        if code.startswith(("u", "U")):
            return chr(int(code[1:], 16))
        raise HclError(f"unknown escape \\{code} in a string")

    text = re.sub(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", one, text)
    return text.replace("$${", "${").replace("%%{", "%{")


def to_string(value: Any) -> str:
    """Terraform's conversion of a primitive to a string (tostring, interpolation)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise HclError(f"{value!r} is not a primitive value, so it has no string form")


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise HclError(f"{value!r} is a bool, not a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        parsed = float(value)
        return int(parsed) if parsed.is_integer() else parsed
    raise HclError(f"{value!r} is not a number")


def _jsonencode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _regex(pattern: str, text: str) -> str:
    # RE2 and Python agree on the patterns the module's validations use (classes, anchors, repeats).
    match = re.search(pattern, text)
    if match is None:
        raise HclError(f"regex {pattern!r} does not match {text!r}")
    return match.group(0)


def _flatten(value: Any) -> list[Any]:
    found: list[Any] = []
    for item in value:
        found += _flatten(item) if isinstance(item, list) else [item]
    return found


def _format(spec: str, *args: Any) -> str:
    """format() with the verbs the module uses: %s, %d and %%."""
    values = iter(args)

    def verb(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        value = next(values)
        return str(int(_number(value))) if match.group(0) == "%d" else to_string(value)

    return re.sub(r"%[sd%]", verb, spec)


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in maps:
        merged.update(item)
    return merged


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *lists: [item for items in lists for item in items],
    "compact": lambda items: [item for item in items if item not in ("", None)],
    "contains": lambda items, value: value in items,
    "endswith": lambda text, suffix: str(text).endswith(suffix),
    "flatten": _flatten,
    "format": _format,
    "join": lambda separator, items: separator.join(to_string(item) for item in items),
    "jsonencode": _jsonencode,
    "length": len,
    "lower": lambda text: str(text).lower(),
    "merge": _merge,
    "regex": _regex,
    "tonumber": _number,
    "tostring": to_string,
}
# Evaluated lazily: `can(expr)` is true when expr evaluates (Terraform's can()).
_LAZY_FUNCTIONS = frozenset({"can"})


class References(Protocol):
    """What the caller makes of `data.TYPE.NAME.ATTR` and `TYPE.NAME[INDEX].ATTR`."""

    def data(self, address: str, attribute: str) -> Any: ...

    def resource(self, address: str, index: int | None, attribute: str) -> Any: ...


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: _number(a) < _number(b),
    ">": lambda a, b: _number(a) > _number(b),
    "<=": lambda a, b: _number(a) <= _number(b),
    ">=": lambda a, b: _number(a) >= _number(b),
    "+": lambda a, b: _number(a) + _number(b),
    "-": lambda a, b: _number(a) - _number(b),
    "*": lambda a, b: _number(a) * _number(b),
}


class Evaluator:
    """Evaluates the module's expressions for one set of variable values."""

    def __init__(self, module: Module, variables: Mapping[str, Any], references: References) -> None:
        self.module = module
        self.variables = dict(variables)
        self.references = references
        self._locals: dict[str, Any] = {}
        self._evaluating: set[str] = set()

    # -- names ----------------------------------------------------------------------------------
    def var(self, name: str) -> Any:
        if name in self.variables:
            return self.variables[name]
        block = self.module.variables.get(name)
        if block is None:
            raise HclError(f"var.{name} is not declared")
        if "default" not in block.attributes:
            raise HclError(f"var.{name} has no default and no value was given")
        return self.eval(block.attributes["default"])

    def local(self, name: str) -> Any:
        if name not in self._locals:
            if name not in self.module.locals:
                raise HclError(f"local.{name} is not defined")
            if name in self._evaluating:
                raise HclError(f"local.{name} refers to itself")
            self._evaluating.add(name)
            try:
                self._locals[name] = self.eval(self.module.locals[name])
            finally:
                self._evaluating.discard(name)
        return self._locals[name]

    def count(self, address: str) -> int | None:
        """The resource's count (None: no count argument, a single instance)."""
        block = self.module.resources[address]
        if "count" not in block.attributes:
            return None
        return int(_number(self.eval(block.attributes["count"])))

    def included(self, address: str) -> bool:
        return self.count(address) != 0

    def argument(self, block: Block, name: str, default: Any = None) -> Any:
        return self.eval(block.attributes[name]) if name in block.attributes else default

    # -- expressions ----------------------------------------------------------------------------
    def eval(self, tree: HclTree | Token, scope: Mapping[str, Any] | None = None) -> Any:
        scope = scope or {}
        if isinstance(tree, Token):
            raise HclError(f"unexpected token {tree!s}")
        method = getattr(self, f"_{tree.data}", None)
        if method is None:
            raise HclError(f"the evaluator does not support {tree.data} (line {tree.meta.line})")
        return method(tree, scope)

    def _expr_term(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        children = _children(tree)
        if isinstance(children[0], Token) and children[0].type == "LPAR":
            return self.eval(children[1], scope)
        return self.eval(children[0], scope)

    def _int_lit(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return int(str(tree.children[0]))

    def _float_lit(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return float(str(tree.children[0]))

    def _literal_value(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return {"true": True, "false": False, "null": None}[str(tree.children[0])]

    def _string(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        parts = [c for c in tree.children if isinstance(c, Tree)]
        values: list[Any] = []
        for part in parts:
            inner = part.children[0]
            if isinstance(inner, Token):
                values.append(_unescape(str(inner)))
            elif inner.data == "interpolation":
                values.append(self.eval(_trees(inner)[0], scope))
            else:
                raise HclError(f"the evaluator does not support template directives ({inner.data})")
        if len(parts) == 1 and not isinstance(parts[0].children[0], Token):
            return values[0]  # "${x}" is x itself, not converted
        return "".join(to_string(v) for v in values)

    def _tuple(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return [self.eval(item, scope) for item in _trees(tree)]

    def _object(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        found: dict[str, Any] = {}
        for element in _trees(tree):
            key_node, value_node = _trees(element)
            key_expr = _trees(key_node)[0]
            bare = _trees(key_expr)[0] if key_expr.data == "expr_term" else key_expr
            # `Sid = ...`: a bare name is the key itself; `"aws:SourceArn" = ...` evaluates.
            key = _name(bare) if bare.data in ("identifier", "keyword") else to_string(self.eval(key_expr, scope))
            found[key] = self.eval(value_node, scope)
        return found

    def _identifier(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        name = _name(tree)
        if name in scope:
            return scope[name]
        raise HclError(f"{name} alone is not a value (a reference needs var., local., data. or a resource type)")

    def _conditional(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        condition, when_true, when_false = _trees(tree)
        chosen = self.eval(condition, scope)
        if not isinstance(chosen, bool):
            raise HclError(f"a condition evaluated to {chosen!r}, not a bool (line {tree.meta.line})")
        return self.eval(when_true if chosen else when_false, scope)

    def _binary_op(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        left, term = _trees(tree)
        operator_node, right = _trees(term)
        operator = "".join(str(t) for t in operator_node.children).strip()
        lhs = self.eval(left, scope)
        if operator in ("&&", "||"):
            rhs = self.eval(right, scope)
            if not (isinstance(lhs, bool) and isinstance(rhs, bool)):
                raise HclError(f"{operator} needs bools, not {lhs!r} and {rhs!r}")
            return (lhs and rhs) if operator == "&&" else (lhs or rhs)
        if operator not in _OPERATORS:
            raise HclError(f"the evaluator does not support the operator {operator}")
        return _OPERATORS[operator](lhs, self.eval(right, scope))

    def _unary_op(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        operator = str(tree.children[0])
        value = self.eval(_trees(tree)[0], scope)
        if operator == "!":
            if not isinstance(value, bool):
                raise HclError(f"! needs a bool, not {value!r}")
            return not value
        return -_number(value)

    def _function_call(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        parts = _trees(tree)
        name = _name(parts[0])
        arguments = _trees(parts[1]) if len(parts) > 1 else []
        if name in _LAZY_FUNCTIONS:
            try:
                self.eval(arguments[0], scope)
            except (HclError, ValueError, TypeError, KeyError, IndexError):
                return False
            return True
        if name not in FUNCTIONS:
            raise HclError(f"the evaluator does not support the function {name}() (line {tree.meta.line})")
        return FUNCTIONS[name](*(self.eval(argument, scope) for argument in arguments))

    def _for_tuple_expr(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        intro, *rest = _trees(tree)
        found = []
        for inner in self._iterate(intro, scope):
            if len(rest) > 1 and not self.eval(_trees(rest[1])[0], inner):
                continue
            found.append(self.eval(rest[0], inner))
        return found

    def _for_object_expr(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        intro, key, value, *condition = _trees(tree)
        found = {}
        for inner in self._iterate(intro, scope):
            if condition and not self.eval(_trees(condition[0])[0], inner):
                continue
            found[to_string(self.eval(key, inner))] = self.eval(value, inner)
        return found

    def _iterate(self, intro: HclTree, scope: Mapping[str, Any]) -> list[dict[str, Any]]:
        parts = _trees(intro)
        names = [_name(p) for p in parts if p.data == "identifier"]
        collection = self.eval(parts[-1], scope)
        pairs = list(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
        if len(names) == 1:
            return [{**scope, names[0]: value} for _, value in pairs]
        return [{**scope, names[0]: key, names[1]: value} for key, value in pairs]

    def _index_expr_term(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return self._path(tree, scope)

    def _get_attr_expr_term(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        return self._path(tree, scope)

    def _path(self, tree: HclTree, scope: Mapping[str, Any]) -> Any:
        """A traversal: a root name then .attr and [index] steps, as a reference when it is one."""
        steps: list[tuple[str, Any]] = []
        node = tree
        while node.data in ("get_attr_expr_term", "index_expr_term", "expr_term"):
            parts = _trees(node)
            if node.data == "expr_term":
                if len(parts) != 1:
                    break
                node = parts[0]
                continue
            inner, step = parts
            if step.data == "get_attr":
                steps.append(("attr", _name(_trees(step)[0])))
            elif step.data == "short_index":
                steps.append(("index", int(str(step.children[-1]))))
            else:
                steps.append(("index", self.eval(_trees(step)[0], scope)))
            node = inner
        steps.reverse()
        if node.data != "identifier" or _name(node) in scope:
            value = self.eval(node, scope)
            return self._walk(value, steps)
        root = _name(node)
        attrs = [value for kind, value in steps]
        if root == "var":
            return self._walk(self.var(attrs[0]), steps[1:])
        if root == "local":
            return self._walk(self.local(attrs[0]), steps[1:])
        if root == "data":
            address = f"{attrs[0]}.{attrs[1]}"
            if address not in self.module.data:
                raise HclError(f"data.{address} is not declared")
            return self._walk(self.references.data(address, attrs[2]), steps[3:])
        address = f"{root}.{attrs[0]}"
        if address not in self.module.resources:
            raise HclError(f"{address} is not a resource of the module")
        index: int | None = None
        rest = steps[1:]
        if rest and rest[0][0] == "index":
            index = int(rest[0][1])
            rest = rest[1:]
        count = self.count(address)
        if (count is None) != (index is None) or (index is not None and count is not None and index >= count):
            raise HclError(f"{address}{f'[{index}]' if index is not None else ''} does not exist (count {count})")
        if not rest:
            raise HclError(f"{address} is referred to as a whole; the evaluator reads attributes only")
        return self._walk(self.references.resource(address, index, str(rest[0][1])), rest[1:])

    @staticmethod
    def _walk(value: Any, steps: list[tuple[str, Any]]) -> Any:
        for kind, key in steps:
            if kind == "attr" and isinstance(value, dict):
                if key not in value:
                    raise HclError(f"no attribute {key!r} in {sorted(value)}")
                value = value[key]
            elif kind == "index" and isinstance(value, list | dict):
                value = value[key]
            else:
                raise HclError(f"cannot take {kind} {key!r} of {value!r}")
        return value
