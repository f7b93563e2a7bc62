# cstyle.awk: the mechanical part of illumos's cstyle, for the shipped C
# (make cstyle): line length (8-column tabs), trailing white space,
# indenting by spaces, keyword spacing, return's parentheses, C++
# comments, braces around else.  Strings, character constants and
# comments are stripped before the code checks.  Prints FILE:LINE: what
# for each finding; exits 1 if there is any.  No interval expressions in
# the regular expressions: Debian's default awk (mawk) does not take
# them, and a check written with one would silently find nothing.
function report(what) {
	printf("%s:%d: %s\n", FILENAME, FNR, what)
	bad++
}
# s follows "return": ";" alone, or one parenthesized expression then
# ";" (a return that goes on to the next line is not judged).
function parenthesized(s,	i, c, depth) {
	sub(/^[ \t]*/, "", s)
	if (s == "" || s ~ /^;/)
		return (1)
	if (substr(s, 1, 1) != "(")
		return (0)
	depth = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "(")
			depth++
		else if (c == ")" && --depth == 0)
			break
	}
	if (depth > 0)
		return (1)
	return (substr(s, i + 1) ~ /^[ \t]*;/)
}
FNR == 1 { incomment = 0 }
{
	line = $0
	# Columns as a terminal with 8-column tabs shows them.
	col = 0
	for (i = 1; i <= length(line); i++) {
		c = substr(line, i, 1)
		col = (c == "\t") ? col - col % 8 + 8 : col + 1
	}
	if (col > 80)
		report("line > 80 characters")
	if (line ~ /[ \t]$/)
		report("trailing white space")
	if (line ~ /^\t*        / || line ~ /^\t* +\t/)
		report("indent by spaces instead of tabs")

	# What follows looks at code only: strip strings, chars, comments.
	code = line
	gsub(/\\./, "", code)
	gsub(/"[^"]*"/, "\"\"", code)
	gsub(/'[^']*'/, "''", code)
	if (incomment) {
		if (code !~ /\*\//)
			next
		sub(/^.*\*\//, "", code)
		incomment = 0
	}
	gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", code)
	if (code ~ /\/\*/) {
		sub(/\/\*.*$/, "", code)
		incomment = 1
	}
	if (code ~ /^#/)
		next
	if (code ~ /\/\//)
		report("C++ comment")
	if (code ~ /(^|[^A-Za-z0-9_])(if|for|while|switch|return|sizeof)\(/)
		report("missing space between keyword and paren")
	if (match(code, /(^|[^A-Za-z0-9_])return([ \t;]|$)/) &&
	    !parenthesized(substr(code, RSTART + RLENGTH - 1)))
		report("unparenthesized return expression")
	if (code ~ /\)\{/ && code !~ /\((struct|union) [A-Za-z0-9_]+\)\{/)
		report("missing space between right paren and left brace")
	if (code ~ /\}else|else\{/)
		report("missing space around else")
	if (code ~ /^[ \t]*else[ \t]*(\{|$)/ && prev ~ /^[ \t]*\}[ \t]*$/)
		report("else and right brace should be on same line")
	if (code ~ /[,;][^ \t\n)]/ && code !~ /for[ \t]*\(/)
		report("comma or semicolon followed by non-blank")
	prev = code
}
END { exit (bad > 0) }
