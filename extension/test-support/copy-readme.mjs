// Before `npm run build`: the project's README goes into the add-on as help/README.txt,
// which the install help page links (as .txt, so that Thunderbird shows it as text). The
// copy is generated, never edited (.gitignore).

import { copyFileSync } from "node:fs";
import path from "node:path";

import { EXT_DIR, REPO_DIR } from "./fakes.mjs";

export const README_COPY = path.join(EXT_DIR, "help", "README.txt");

copyFileSync(path.join(REPO_DIR, "README.md"), README_COPY);
