using System.Diagnostics;
using CmpCluster.Tests.EndToEnd;

namespace CmpCluster.Tests.Repository;

/// <summary>
/// The files of this checkout as git sees them: tracked files plus untracked files that .gitignore does not exclude
/// (<c>git ls-files --cached --others --exclude-standard</c>), so a document not committed yet counts already. Without
/// git (a source archive) the folder is walked instead, leaving out what .gitignore names.
/// </summary>
public sealed class RepositoryFiles
{
    private readonly HashSet<string> _files;
    private readonly HashSet<string> _directories;

    private RepositoryFiles(string root, IEnumerable<string> files)
    {
        Root = root;
        _files = files.Where(f => File.Exists(Path.Combine(root, f))).ToHashSet(StringComparer.Ordinal);
        _directories = _files.SelectMany(Parents).ToHashSet(StringComparer.Ordinal);
        Ignored = GitIgnore.Read(root);
    }

    public static RepositoryFiles Instance { get; } = Load();

    /// <summary>The repository root (the folder of Cluster.sln).</summary>
    public string Root { get; }

    /// <summary>Repository-relative paths with '/' separators.</summary>
    public IReadOnlyCollection<string> Files => _files;

    /// <summary>What .gitignore excludes: build outputs and folders made at run time.</summary>
    public GitIgnore Ignored { get; }

    /// <summary>A file, or a folder that holds one.</summary>
    public bool Exists(string path)
    {
        string trimmed = path.TrimEnd('/');
        return _files.Contains(trimmed) || _directories.Contains(trimmed);
    }

    public string Read(string path) => File.ReadAllText(Path.Combine(Root, path));

    /// <summary>The first folder of every path: where a repository path in a text can start.</summary>
    public IReadOnlyList<string> TopLevelDirectories() =>
        _files.Where(f => f.Contains('/')).Select(f => f[..f.IndexOf('/')]).Distinct().Order(StringComparer.Ordinal).ToArray();

    private static IEnumerable<string> Parents(string file)
    {
        for (int slash = file.IndexOf('/'); slash > 0; slash = file.IndexOf('/', slash + 1))
        {
            yield return file[..slash];
        }
    }

    private static RepositoryFiles Load()
    {
        string root = NodeLaunch.RepositoryRoot() ?? throw new InvalidOperationException("no Cluster.sln above the test assembly");
        return new RepositoryFiles(root, FromGit(root) ?? Walk(root));
    }

    private static string[]? FromGit(string root)
    {
        try
        {
            var start = new ProcessStartInfo("git", "ls-files -z --cached --others --exclude-standard")
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using Process git = Process.Start(start)!;
            string output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return git.ExitCode == 0 ? output.Split('\0', StringSplitOptions.RemoveEmptyEntries) : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this machine
        }
    }

    private static IEnumerable<string> Walk(string root)
    {
        GitIgnore ignored = GitIgnore.Read(root);
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith(".git/", StringComparison.Ordinal) && f != ".git" && !ignored.Matches(f));
    }
}

/// <summary>
/// The repository's .gitignore, the part of its syntax it uses: <c>name/</c> (a folder of that name anywhere),
/// <c>a/b/</c> (that folder, from the root) and <c>*.ext</c>.
/// </summary>
public sealed class GitIgnore
{
    private readonly string[] _anywhere;
    private readonly string[] _rooted;
    private readonly string[] _extensions;

    private GitIgnore(string[] lines)
    {
        string[] folders = lines.Where(l => l.EndsWith('/')).Select(l => l.TrimEnd('/')).ToArray();
        _anywhere = folders.Where(f => !f.Contains('/')).ToArray();
        _rooted = folders.Where(f => f.Contains('/')).Select(f => f.TrimStart('/')).ToArray();
        _extensions = lines.Where(l => l.StartsWith("*.", StringComparison.Ordinal)).Select(l => l[1..]).ToArray();
    }

    public static GitIgnore Read(string root)
    {
        string file = Path.Combine(root, ".gitignore");
        string[] lines = File.Exists(file)
            ? File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray()
            : [];
        return new GitIgnore(lines);
    }

    /// <summary>Whether a repository-relative path lies in an ignored folder (or is one) or has an ignored extension.</summary>
    public bool Matches(string path)
    {
        string trimmed = path.TrimEnd('/');
        string[] segments = trimmed.Split('/');
        return segments.Any(s => _anywhere.Contains(s, StringComparer.Ordinal))
            || _rooted.Any(r => trimmed == r || trimmed.StartsWith(r + "/", StringComparison.Ordinal))
            || _extensions.Any(e => trimmed.EndsWith(e, StringComparison.Ordinal));
    }
}
