using CmpCluster.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>A gateway or silo whose cluster TLS material is missing or untrusted stops at start and says why.</summary>
public sealed class ClusterTlsSettingsTests
{
    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build();

    [Fact]
    public void Missing_paths_name_the_setting()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ClusterTls.Load(Settings()));
        Assert.Contains("Cluster:Tls:CertificatePath", e.Message);
    }

    [Fact]
    public void Turned_off_explicitly_it_loads_nothing()
    {
        Assert.Null(ClusterTls.Load(Settings(("Cluster:Tls:Enabled", "false"))));
    }

    [Fact]
    public async Task A_silo_whose_tls_files_are_missing_exits_3_naming_the_setting_without_a_stack_trace()
    {
        (string dll, string contentRoot) = EndToEnd.NodeLaunch.LocateSilo();
        string missing = Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N"));
        var info = new System.Diagnostics.ProcessStartInfo(EndToEnd.NodeLaunch.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { dll, "--contentRoot", contentRoot, "--Node:Mode=Cluster", "--Redis:ConnectionString=127.0.0.1:1",
            $"--Node:DataDirectory={missing}", $"--Cluster:Tls:CertificatePath={missing}/silo.pem",
            $"--Cluster:Tls:KeyPath={missing}/silo.key.pem", $"--Cluster:Tls:TrustedCaPath={missing}/cluster-ca.pem" })
        {
            info.ArgumentList.Add(argument);
        }
        using System.Diagnostics.Process process = System.Diagnostics.Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        string output = await stdout + await stderr;

        Assert.True(process.ExitCode == 3, output);
        Assert.Contains("Cluster:Tls", output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("   at ", output);
        // The data directory is made first thing at start (silo/Program.cs); nothing is written into it.
        Assert.Empty(Directory.Exists(missing) ? Directory.EnumerateFileSystemEntries(missing) : []);
        if (Directory.Exists(missing))
        {
            Directory.Delete(missing, recursive: true);
        }
    }

    [Fact]
    public async Task A_certificate_of_another_ca_is_refused_at_start()
    {
        string root = Path.Combine(Path.GetTempPath(), "cluster-tls-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await Cluster.TestCluster.CreateClusterTlsAsync(Path.Combine(root, "ours"), "silo");
            await Cluster.TestCluster.CreateClusterTlsAsync(Path.Combine(root, "theirs"), "silo");
            IConfiguration settings = Settings(
                ("Cluster:Tls:CertificatePath", Path.Combine(root, "theirs", "silo.pem")),
                ("Cluster:Tls:KeyPath", Path.Combine(root, "theirs", "silo.key.pem")),
                ("Cluster:Tls:TrustedCaPath", Path.Combine(root, "ours", "cluster-ca.pem")));
            var e = Assert.Throws<InvalidOperationException>(() => ClusterTls.Load(settings));
            Assert.Contains("is not issued by Cluster:Tls:TrustedCaPath", e.Message);

            ClusterTls ours = ClusterTls.Load(Settings(
                ("Cluster:Tls:CertificatePath", Path.Combine(root, "ours", "silo.pem")),
                ("Cluster:Tls:KeyPath", Path.Combine(root, "ours", "silo.key.pem")),
                ("Cluster:Tls:TrustedCaPath", Path.Combine(root, "ours", "cluster-ca.pem"))))!;
            Assert.True(ours.Certificate.HasPrivateKey);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
