"""README.md is generated from nbs/index.ipynb (nbdev's readme_nb). `nbdev_readme` needs Quarto, which cannot be
installed here, so the same source is executed with nbclient and exported with nbconvert; stderr (progress bars,
warnings) is dropped from the outputs."""
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parents[1]
nb = nbformat.read(root/"nbs"/"index.ipynb", as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(root/"nbs")}}).execute()
for c in nb.cells:
    if c.cell_type == "code":
        c.outputs = [o for o in c.outputs if not (o.output_type == "stream" and o.name == "stderr")]
# as nbdev does: `#| hide` cells are not shown, and directive lines are dropped from the rest
nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and
                                        any(l.strip().replace(" ", "") == "#|hide" for l in c.source.splitlines()))]
for c in nb.cells:
    if c.cell_type == "code": c.source = "\n".join(l for l in c.source.splitlines() if not l.startswith("#|"))
body, _ = MarkdownExporter().from_notebook_node(nb)
(root/"README.md").write_text(body.strip() + "\n")
print("README.md regenerated from nbs/index.ipynb")
