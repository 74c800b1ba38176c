namespace CmpCluster.Tests.EndToEnd;

/// <summary>A throw-away directory for keys, certificates and saved messages; deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "work")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cmpcluster-e2e", $"{prefix}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside this directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => DeleteQuietly(Path);

    /// <summary>Best effort: a leaked temp directory must not fail a test.</summary>
    public static void DeleteQuietly(string path)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(100);
            }
        }
    }
}
