using System.Text;
using System.Text.RegularExpressions;

namespace CmpCluster.Tests.Repository;

/// <summary>
/// The matchers behind <see cref="ReferenceTests"/>, kept small enough to read in one go. A reference is one of:
/// <list type="bullet">
/// <item>a repository path: a token that starts with a top-level folder of the repository and a slash
/// (<c>grains/Certificates/CertificateIssuer.cs</c>, <c>./loadtests/bench.sh</c>), not preceded by a letter, digit, '.',
/// '-', '/', '#', '$', '@' or '~' (so URLs, <c>System.IO</c>-like names, <c>${VAR#docs/}</c> and <c>~/x</c> are not paths);</item>
/// <item>a bare Markdown file name in capitals (<c>BENCHMARKS.md</c>; lower-case ones like <c>run.md</c> are outputs a
/// command writes): some file of the repository must have that name;</item>
/// <item>a Markdown link or image target (<c>[text](path#anchor)</c>) in a .md file, relative to that file, with its anchor;</item>
/// <item>a section named by its title after a Markdown file (<c>README "Cluster mode"</c>,
/// <c>docs/BENCHMARKS.md, "Audit trail"</c>): a heading of that file, or a bold run-in heading (<c>**Title.**</c>).</item>
/// </list>
/// A repository path is not checked when it cannot name a file of the checkout: it lies in a folder .gitignore names
/// (<c>bin/</c>, <c>fuzz/out/</c>, <c>deploy/tls/</c>: build outputs and folders made at run time); it is computed (a
/// <c>$</c>, <c>*</c>, <c>%</c> or <c>&lt;</c> follows it, or it ends in '-'); or it holds a placeholder: a segment in
/// capitals without an extension (<c>fuzz/corpus/HARNESS</c>), a capitalised word after a hyphen
/// (<c>soak-TIMESTAMP.csv</c>) or a braced word (<c>{harness}</c>). Braces with commas are expanded
/// (<c>Dockerfile.{silo,gateway}</c> names two files).
/// </summary>
public static partial class References
{
    /// <summary>A repository path found in a text: what was written, and the paths it names.</summary>
    public sealed record PathReference(string Written, IReadOnlyList<string> Paths, int Line);

    /// <summary>Outside references this repository does not make: documents that are not in it.</summary>
    public static IEnumerable<(string Match, int Line)> Forbidden(string text)
    {
        foreach (Match m in ForbiddenPattern().Matches(text))
        {
            yield return (m.Value, LineOf(text, m.Index));
        }
    }

    /// <summary>Repository paths in <paramref name="text"/> (see the class summary for what counts and what is skipped).</summary>
    public static IEnumerable<PathReference> Paths(string text, IReadOnlyList<string> topLevelDirectories, GitIgnore ignored)
    {
        var pattern = new Regex(
            @"(?:(?<=(?<![\w.])\./)|(?<![\w.\-/#$@~]))(?:" + string.Join('|', topLevelDirectories.Select(Regex.Escape))
            + @")/(?:[\w.\-/]|\{[\w.\-,]*\})*");
        foreach (Match m in pattern.Matches(text))
        {
            string written = m.Value.TrimEnd('.', ',');
            char next = m.Index + m.Length < text.Length ? text[m.Index + m.Length] : ' ';
            if (written.EndsWith('-') || next is '$' or '*' or '%' or '<' or '{' || written.Split('/').Any(IsPlaceholder))
            {
                continue;
            }
            string[] paths = Expand(written).Where(p => !ignored.Matches(p)).ToArray();
            if (paths.Length > 0)
            {
                yield return new PathReference(written, paths, LineOf(text, m.Index));
            }
        }
    }

    /// <summary>Bare Markdown file names (<c>FUZZING.md</c>), not part of a path.</summary>
    public static IEnumerable<(string Name, int Line)> MarkdownNames(string text)
    {
        foreach (Match m in MarkdownNamePattern().Matches(text))
        {
            yield return (m.Value, LineOf(text, m.Index));
        }
    }

    /// <summary>Link and image targets of a Markdown text that stay in the repository (no scheme).</summary>
    public static IEnumerable<(string Target, int Line)> MarkdownLinks(string markdown)
    {
        string text = WithoutCodeBlocks(markdown);
        foreach (Match m in LinkPattern().Matches(text))
        {
            string target = m.Groups["target"].Value;
            if (!target.Contains("://", StringComparison.Ordinal) && !target.StartsWith("mailto:", StringComparison.Ordinal))
            {
                yield return (target, LineOf(text, m.Index));
            }
        }
    }

    /// <summary><c>FILE.md, "Title"</c>, <c>README "Title"</c>, <c>README's "Title"</c>.</summary>
    public static IEnumerable<(string File, string Title, int Line)> SectionTitles(string text)
    {
        foreach (Match m in SectionTitlePattern().Matches(text))
        {
            yield return (m.Groups["file"].Value, m.Groups["title"].Value, LineOf(text, m.Index));
        }
    }

    /// <summary>The headings of a Markdown text (outside fenced code) and its bold run-in headings, as written.</summary>
    public static IEnumerable<string> Headings(string markdown)
    {
        string text = WithoutCodeBlocks(markdown);
        foreach (Match m in HeadingPattern().Matches(text))
        {
            yield return m.Groups["title"].Value.Trim().TrimEnd('#').Trim();
        }
        foreach (Match m in RunInHeadingPattern().Matches(text))
        {
            yield return m.Groups["title"].Value.Trim();
        }
    }

    /// <summary>GitHub's anchors for the headings of a Markdown text: lower case, punctuation dropped, spaces to '-',
    /// a repeated anchor numbered (<c>-1</c>, <c>-2</c>).</summary>
    public static IReadOnlySet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in HeadingPattern().Matches(WithoutCodeBlocks(markdown)))
        {
            var slug = new StringBuilder();
            foreach (char c in m.Groups["title"].Value.Trim().TrimEnd('#').Trim().ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '-' or '_')
                {
                    slug.Append(c);
                }
                else if (c == ' ')
                {
                    slug.Append('-');
                }
            }
            string anchor = slug.ToString();
            int count = seen.GetValueOrDefault(anchor);
            seen[anchor] = count + 1;
            anchors.Add(count == 0 ? anchor : $"{anchor}-{count}");
        }
        return anchors;
    }

    /// <summary>A segment that stands for a name chosen at run time.</summary>
    private static bool IsPlaceholder(string segment) =>
        PlaceholderPattern().IsMatch(segment) || (segment.StartsWith('{') && segment.EndsWith('}') && !segment.Contains(','));

    /// <summary><c>a/{b,c}/d</c> → <c>a/b/d</c>, <c>a/c/d</c> (one level of braces, as the texts here use).</summary>
    private static IEnumerable<string> Expand(string path)
    {
        Match brace = BracePattern().Match(path);
        if (!brace.Success)
        {
            return [path];
        }
        return brace.Groups[1].Value.Split(',').SelectMany(choice => Expand(path[..brace.Index] + choice + path[(brace.Index + brace.Length)..]));
    }

    private static string WithoutCodeBlocks(string markdown) =>
        // Keeps the line count (so line numbers stay right), drops what a fence encloses.
        FencePattern().Replace(markdown, m => new string('\n', m.Value.Count(c => c == '\n')));

    private static int LineOf(string text, int index) => 1 + text.AsSpan(0, index).Count('\n');

    // The names of the outside documents this check refuses to see cited, put together rather than written out, so that this
    // file (and the tests of the matcher) do not themselves read as citations of them.
    internal const string Design = "DES" + "IGN", Style = "STY" + "LE", Notes = "NOT" + "ES", Table = "se" + "ed";

    // The table's name as a citation ("x/", " (x", "the x", "x §"), never the fuzzer's "x corpus" or a variable Random(x).
    [GeneratedRegex(@"\.\./shared|\b(?:" + Design + "|" + Style + "|" + Notes + @")\.md\b|\b(?:" + Design + "|" + Style + @") §|(?i:(?<![a-z])"
        + Table + @"/|(?<!\w)\(" + Table + @"(?![a-z])|(?<![a-z])the[ _]" + Table + @"(?![a-z])(?![ _]corpus)|(?<![a-z])" + Table + @" §)")]
    private static partial Regex ForbiddenPattern();

    [GeneratedRegex(@"(?<![\w.\-/$])[A-Z][A-Z0-9_\-]*\.md\b")]
    private static partial Regex MarkdownNamePattern();

    [GeneratedRegex(@"!?\[[^\]\n]*\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"(?<file>(?<![\w.\-/])(?:[\w.\-]+/)*[\w.\-]+\.md|\bREADME)(?:'s)?,? ""(?<title>[^""\n]+)""")]
    private static partial Regex SectionTitlePattern();

    [GeneratedRegex(@"^#{1,6}[ \t]+(?<title>.+)$", RegexOptions.Multiline)]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"\*\*(?<title>[^*\n]+?)\.?\*\*")]
    private static partial Regex RunInHeadingPattern();

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]*$|-[A-Z]{2,}[A-Z0-9_]*\b")]
    private static partial Regex PlaceholderPattern();

    [GeneratedRegex(@"\{([\w.\-]*,[\w.\-,]*)\}")]
    private static partial Regex BracePattern();

    [GeneratedRegex(@"^[ \t]*```.*?^[ \t]*```[^\n]*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencePattern();
}
