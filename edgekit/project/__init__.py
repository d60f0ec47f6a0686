"""Firmware projects: the typed :class:`~edgekit.project.manifest.Project` (manifest.py), board
families (families/), rendering from templates (render.py), `edgekit generate` (generate.py),
`edgekit build` (build.py) and the image's memory use (size.py).

    project = generate_project(model, board, out_dir).project   # edgekit.project.generate
    result = build_project(project, jobs=2)                      # edgekit.project.build
    result.elf, result.size.table()

Import from the modules: this package's own import pulls in nothing.
"""
