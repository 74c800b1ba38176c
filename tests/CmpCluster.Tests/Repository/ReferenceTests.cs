using Xunit;

namespace CmpCluster.Tests.Repository;

/// <summary>
/// Comments and documents cite what a reader can open: an RFC section, an EJBCA documentation page by its title, or a
/// file of this repository. These tests check the last kind, and that no text cites a document outside the repository.
/// They read every text file of the checkout (*.cs, *.md, *.sh, *.json, *.yaml, *.yml) except this folder's own files,
/// whose examples would match. What counts as a reference, and what is skipped, is in <see cref="References"/>.
/// </summary>
public sealed class ReferenceTests
{
    private static readonly string[] TextExtensions = [".cs", ".md", ".sh", ".json", ".yaml", ".yml"];
    private const string OwnFolder = "tests/CmpCluster.Tests/Repository/";

    private static readonly RepositoryFiles Repo = RepositoryFiles.Instance;

    private static IEnumerable<string> TextFiles() => Repo.Files
        .Where(f => TextExtensions.Contains(Path.GetExtension(f), StringComparer.Ordinal) && !f.StartsWith(OwnFolder, StringComparison.Ordinal))
        .Order(StringComparer.Ordinal);

    [Fact]
    public void Every_repository_path_named_in_a_text_exists()
    {
        IReadOnlyList<string> top = Repo.TopLevelDirectories();
        var missing = new List<string>();
        foreach (string file in TextFiles())
        {
            foreach (References.PathReference reference in References.Paths(Repo.Read(file), top, Repo.Ignored))
            {
                missing.AddRange(reference.Paths.Where(p => !Repo.Exists(p)).Select(p => $"{file}:{reference.Line}: {p}"));
            }
            foreach ((string name, int line) in References.MarkdownNames(Repo.Read(file)))
            {
                if (!Repo.Files.Any(f => f == name || f.EndsWith("/" + name, StringComparison.Ordinal)))
                {
                    missing.Add($"{file}:{line}: {name}");
                }
            }
        }
        Assert.True(missing.Count == 0, "paths that are not in the repository:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void Markdown_links_and_their_anchors_resolve()
    {
        var broken = new List<string>();
        foreach (string file in TextFiles().Where(f => f.EndsWith(".md", StringComparison.Ordinal)))
        {
            string folder = Path.GetDirectoryName(file)!.Replace('\\', '/');
            foreach ((string target, int line) in References.MarkdownLinks(Repo.Read(file)))
            {
                string[] parts = target.Split('#', 2);
                string path = parts[0].Length == 0 ? file : Normalize(folder, Uri.UnescapeDataString(parts[0]));
                if (!Repo.Exists(path))
                {
                    broken.Add($"{file}:{line}: {target} (no {path})");
                }
                else if (parts.Length == 2 && path.EndsWith(".md", StringComparison.Ordinal) && !References.Anchors(Repo.Read(path)).Contains(parts[1]))
                {
                    broken.Add($"{file}:{line}: {target} (no heading with anchor #{parts[1]} in {path})");
                }
            }
        }
        Assert.True(broken.Count == 0, "Markdown links that do not resolve:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void Sections_named_by_title_exist_in_the_file_named()
    {
        var missing = new List<string>();
        foreach (string file in TextFiles())
        {
            foreach ((string named, string title, int line) in References.SectionTitles(Repo.Read(file)))
            {
                string? target = named == "README" ? "README.md"
                    : Repo.Exists(named) ? named
                    : Repo.Files.Where(f => f.EndsWith("/" + named, StringComparison.Ordinal) || f == named).Order(StringComparer.Ordinal).FirstOrDefault();
                if (target is null)
                {
                    continue; // the file itself is reported by Every_repository_path_named_in_a_text_exists
                }
                if (!References.Headings(Repo.Read(target)).Any(h => string.Equals(Plain(h), Plain(title), StringComparison.OrdinalIgnoreCase)))
                {
                    missing.Add($"{file}:{line}: {named} \"{title}\" is not a heading of {target}");
                }
            }
        }
        Assert.True(missing.Count == 0, "sections that are not there:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void No_text_cites_a_document_outside_the_repository()
    {
        var found = new List<string>();
        foreach (string file in TextFiles())
        {
            found.AddRange(References.Forbidden(Repo.Read(file)).Select(f => $"{file}:{f.Line}: {f.Match}"));
        }
        Assert.True(found.Count == 0, "citations of documents outside the repository (cite an RFC section, an EJBCA documentation page by title, or a file here):\n" + string.Join('\n', found));
    }

    [Theory]
    [InlineData("see grains/Certificates/CertificateIssuer.cs.", "grains/Certificates/CertificateIssuer.cs")]
    [InlineData("run `./loadtests/bench.sh --write`", "loadtests/bench.sh")]
    [InlineData("deploy/docker/Dockerfile.{silo,gateway}", "deploy/docker/Dockerfile.silo deploy/docker/Dockerfile.gateway")]
    [InlineData("https://github.com/org/repo/blob/main/docs/x.md", "")]
    [InlineData("System.IO/docs/x", "")]
    [InlineData("dotnet silo/bin/Release/net10.0/CmpCluster.Silo.dll", "")]
    [InlineData("fuzz/corpus/HARNESS/x and docs/img/soak-TIMESTAMP.csv and fuzz/corpus/{harness}", "")]
    [InlineData("OUT=docs/img/soak-$STAMP.csv; echo ${OUT#docs/}; ls docs/img/*.png", "")]
    public void The_path_matcher_skips_urls_build_outputs_placeholders_and_computed_paths(string text, string expected)
    {
        string[] found = References.Paths(text, ["deploy", "docs", "fuzz", "grains", "loadtests", "silo"], Repo.Ignored)
            .SelectMany(r => r.Paths).ToArray();

        Assert.Equal(expected.Split(' ', StringSplitOptions.RemoveEmptyEntries), found);
    }

    [Theory]
    // {D}, {S} and {T} stand for the outside documents' names (References.Design, .Style, .Table), filled in below.
    [InlineData("as in {D}.md", true)]
    [InlineData("({S} § 3)", true)]
    [InlineData("from ../shared/notes", true)]
    [InlineData("see the {T}, section 2", true)]
    [InlineData("void Rejects_as_in_the_{T}_table()", true)]
    [InlineData("as agreed ({T} 4.1)", true)]
    [InlineData("the fuzzer's {T} corpus and the {T} corpus files", false)]
    [InlineData("int {T} = Random.Shared.Next(); var random = new Random({T});", false)]
    public void The_forbidden_matcher_finds_citations_not_words(string template, bool forbidden)
    {
        string text = template.Replace("{D}", References.Design).Replace("{S}", References.Style).Replace("{T}", References.Table);

        Assert.Equal(forbidden, References.Forbidden(text).Any());
    }

    [Fact]
    public void Anchors_follow_github()
    {
        IReadOnlySet<string> anchors = References.Anchors("# A\n## Rate limits\n```\n## not a heading\n```\n## 2026-12-03 — cluster mode (1 silo)\n## Rate limits\n");

        Assert.Equal(new HashSet<string> { "a", "rate-limits", "2026-12-03--cluster-mode-1-silo", "rate-limits-1" }, anchors);
    }

    private static string Normalize(string folder, string relative)
    {
        var segments = new List<string>(folder.Length == 0 ? [] : folder.Split('/'));
        foreach (string segment in relative.Split('/'))
        {
            if (segment == "..")
            {
                if (segments.Count > 0) segments.RemoveAt(segments.Count - 1);
            }
            else if (segment is not ("." or ""))
            {
                segments.Add(segment);
            }
        }
        return string.Join('/', segments);
    }

    /// <summary>A title without Markdown code marks, for comparing a quoted title with a heading.</summary>
    private static string Plain(string title) => title.Replace("`", "", StringComparison.Ordinal).Trim();
}
