"""ItemRows → report.html's table of every held-out item: question, expected answer, and per arm
its reply and whether each reading got it right; with a filter (a text box, split, arm and
verdict selectors) in a few lines of inline script.

Without script the page shows the whole table and hides the filter controls (they start
`hidden`; the script reveals them). The script reads only the table's own data attributes:
no item text is ever placed inside it, so no reply can break out of it. Every text is escaped.
"""

from __future__ import annotations

import html

from ..names import REPORT_ARMS
from .formatting import cut
from .items import ItemRow

REPLY_CHARS = 400  # a reply longer than this is cut with "…": a runaway generation must not bloat the page
_MARK = {True: "✓", False: "✗", None: "–"}
_CODE = {True: "1", False: "0", None: "-"}  # data-v codes: right, wrong, not scored

STYLE = ("#items td{vertical-align:top;font-size:.85rem}#items td.r1{background:#effcf6}#items td.r0{background:#fff5f5}"
         "#items .rd{color:#52606d;font-size:.75rem;white-space:nowrap}#item-filter{margin:.5rem 0}"
         "#item-filter>*{margin-right:.5rem}")

# Shows the controls, then on every input hides the rows that do not match: the text (anywhere
# in the row, case-insensitive), the split, and the verdict (right/wrong) of the chosen arm, or
# of any arm when none is chosen.
SCRIPT = """(function(){var f=document.getElementById("item-filter");if(!f)return;f.hidden=false;
var q=f.querySelector("[name=q]"),s=f.querySelector("[name=split]"),a=f.querySelector("[name=arm]"),
v=f.querySelector("[name=verdict]"),n=f.querySelector("output"),rows=document.querySelectorAll("#items tbody tr");
function run(){var t=q.value.toLowerCase(),k=0;rows.forEach(function(r){
var ok=(!s.value||r.dataset.split===s.value)&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
if(ok&&v.value){ok=r.dataset.v.split(" ").some(function(x){var p=x.split(":");
return(!a.value||p[0]===a.value)&&p[1]===v.value;});}r.hidden=!ok;if(ok)k++;});
n.textContent=k+" of "+rows.length+" items shown";}
[q,s,a,v].forEach(function(e){e.addEventListener("input",run);e.addEventListener("change",run);});run();})();"""


def _e(text: str) -> str:
    """Text → safe inside an attribute value or an element."""
    return html.escape(text, quote=True)


def _t(text: str) -> str:
    """Text → safe inside an element (quotes need no escaping there: a reply's apostrophes stay 1 byte)."""
    return html.escape(text, quote=False)


def _arm_cell(row: ItemRow, k: int, reading: str) -> str:
    answer = row.arms[k]
    ok = answer.verdict(reading)
    marks = " · ".join(f"{_e(rd)} {_MARK[v]}" for rd, v in answer.verdicts)
    reply = f"<br>{_t(cut(answer.reply, REPLY_CHARS))}" if answer.reply else ""
    cls = "" if ok is None else f' class="r{int(ok)}"'
    return f'<td{cls}><span class="rd">{marks}</span>{reply}</td>'


def _row(row: ItemRow, reading: str) -> str:
    codes = " ".join(f"{_e(a.arm)}:{_CODE[a.verdict(reading)]}" for a in row.arms)
    expected = _t(row.answer) + (f'<br><span class="rd">{_t(row.reply)}</span>' if row.reply and row.reply != row.answer
                                 else "")
    return (f'<tr data-id="{_e(row.id)}" data-split="{_e(row.split)}" data-v="{codes}"><td>{_e(row.split)}</td>'
            f"<td>{_e(row.form)}</td>"
            f"<td>{_t(row.prompt)}</td><td>{expected}</td>"
            + "".join(_arm_cell(row, k, reading) for k in range(len(row.arms))) + "</tr>")


def _select(name: str, everything: str, values: list[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(label)}</option>' for v, label in values)
    return f'<select name="{name}"><option value="">{_e(everything)}</option>{options}</select>'


def render_items(items: tuple[ItemRow, ...], reading: str) -> str:
    """Every held-out item → its section of report.html ("" when there are none); `reading`
    colours the arm cells and drives the verdict filter (the primary reading)."""
    if not items:
        return ""
    arms = [a.arm for a in items[0].arms] or list(REPORT_ARMS)
    splits = list(dict.fromkeys(r.split for r in items))
    controls = ('<div id="item-filter" hidden><input type="search" name="q" placeholder="filter: any text" '
                'aria-label="filter by text">'
                + _select("split", "every split", [(s, s) for s in splits])
                + _select("arm", "any arm", [(a, a) for a in arms])
                + _select("verdict", f"right or wrong ({reading})", [("1", f"right ({reading})"), ("0", f"wrong ({reading})")])
                + "<output></output></div>")
    head = ("<thead><tr><th>split</th><th>form</th><th>question</th><th>expected</th>"
            + "".join(f"<th>{_e(a)}</th>" for a in arms) + "</tr></thead>")
    body = "".join(_row(r, reading) for r in items)
    return (f"<h2 id=\"all-items\">Every held-out item ({len(items)} items × {len(arms)} arms)</h2>"
            f"<p>Per arm: ✓ right, ✗ wrong, – not scored, per reading (gen: the greedy reply's verdict; mc: "
            f"multiple choice), then the greedy reply. Cells are coloured by the {_e(reading)} reading.</p>"
            f"{controls}<table id=\"items\">{head}<tbody>{body}</tbody></table><script>{SCRIPT}</script>")
