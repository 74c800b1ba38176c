using System.Diagnostics;
using System.Text.RegularExpressions;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Quickstart;

/// <summary>
/// README's quickstart must work as written: this runs the block between the quickstart markers with bash, in a
/// folder whose <c>data/</c> is the node's data directory. The only change is the port (a free one instead of 8080).
/// </summary>
public sealed class QuickstartTests
{
    [Fact]
    public async Task ReadmeQuickstartEnrollsAndVerifiesACertificate()
    {
        string script = ExtractQuickstart(File.ReadAllText(Path.Combine(NodeLaunch.RepositoryRoot() ?? throw new InvalidOperationException("Cluster.sln not found"), "README.md")));
        Assert.Contains("127.0.0.1:8080", script);

        await using NodeProcess node = await NodeProcess.StartAsync();
        string workingDirectory = Path.GetDirectoryName(node.DataDirectory)!;
        string scriptPath = Path.Combine(workingDirectory, "quickstart.sh");
        File.WriteAllText(scriptPath, script.Replace("127.0.0.1:8080", node.Server));

        var start = new ProcessStartInfo("bash", ["-euo", "pipefail", scriptPath])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        string output = await stdout + await stderr;

        Assert.True(process.ExitCode == 0, $"quickstart failed ({process.ExitCode}):\n{output}\n{node.Diagnostics()}");
        Assert.Contains("device.cert.pem: OK", output);
        Assert.Contains("received PKICONF", output); // the certificate was confirmed with certConf
    }

    private static string ExtractQuickstart(string readme)
    {
        Match block = Regex.Match(readme, @"<!-- quickstart:begin -->\s*```bash\n(?<script>.*?)```\s*<!-- quickstart:end -->", RegexOptions.Singleline);
        Assert.True(block.Success, "README.md has no quickstart block between the markers");
        return block.Groups["script"].Value;
    }
}
