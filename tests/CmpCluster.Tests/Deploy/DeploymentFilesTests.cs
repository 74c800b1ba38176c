using System.Diagnostics;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Deploy;

/// <summary>
/// The deployment files cannot run here (no container engine), so they are checked for what can be checked: every YAML
/// document parses (python3 with PyYAML, installed by .ci/run), the Kubernetes manifests have the expected kinds, the
/// compose file has the expected services, and all of them use the configuration keys the local cluster script uses.
/// </summary>
public sealed class DeploymentFilesTests
{
    private static readonly string Deploy = Path.Combine(NodeLaunch.RepositoryRoot() ?? throw new InvalidOperationException("no checkout"), "deploy");

    private const string Script = """
        import sys, yaml, json
        out = {}
        for path in sys.argv[1:]:
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            out[path] = [d.get("kind") or ",".join(sorted(d.get("services", {}).keys())) for d in docs]
        print(json.dumps(out))
        """;

    [Fact]
    public async Task KubernetesManifestsAndComposeFileParseWithTheExpectedKinds()
    {
        string[] files = Directory.GetFiles(Path.Combine(Deploy, "k8s"), "*.yaml").Append(Path.Combine(Deploy, "compose.yaml")).ToArray();
        Dictionary<string, string[]> kinds = await ParseAsync(files);
        string[] all = kinds.Values.SelectMany(k => k).ToArray();
        foreach (string kind in new[] { "Namespace", "StatefulSet", "Deployment", "Service", "ServiceAccount", "Role", "RoleBinding" })
        {
            Assert.Contains(kind, all);
        }
        string services = Assert.Single(kinds[Path.Combine(Deploy, "compose.yaml")]);
        Assert.Equal("gateway-1,gateway-2,loadbalancer,otel-collector,prometheus,redis,silo-1,silo-2", services);
    }

    [Fact]
    public void DeploymentFilesUseTheSameKeysAsTheLocalClusterScript()
    {
        string script = File.ReadAllText(Path.Combine(Deploy, "local", "cluster.sh"));
        string compose = File.ReadAllText(Path.Combine(Deploy, "compose.yaml"));
        string silo = File.ReadAllText(Path.Combine(Deploy, "k8s", "silo.yaml"));
        string gateway = File.ReadAllText(Path.Combine(Deploy, "k8s", "gateway.yaml"));
        foreach (string key in new[] { "Node__Mode", "Redis__ConnectionString" })
        {
            Assert.Contains(key, script);
            Assert.Contains(key, compose);
            Assert.Contains(key, silo);
        }
        Assert.Contains("Redis__ConnectionString", gateway);
        Assert.DoesNotContain("Pki__Passphrase", gateway); // gateways hold no CA key
        Assert.Contains("appendfsync", compose);
    }

    [Fact]
    public void Operator_surfaces_are_scraped_and_reached_on_the_management_port_never_the_device_port()
    {
        string Read(params string[] path) => File.ReadAllText(Path.Combine([Deploy, .. path]));
        foreach (string image in new[] { "Dockerfile.silo", "Dockerfile.gateway" })
        {
            Assert.Contains("Management__Urls=http://0.0.0.0:8081", Read("docker", image));
        }
        Assert.Contains("\"127.0.0.1:8081\"", Read("prometheus", "prometheus.yml"));
        Assert.DoesNotContain(":8080", Read("prometheus", "prometheus.yml"));
        string scrape = Read("otel", "prometheus.yaml");
        Assert.Contains("gateway-1:8081", scrape);
        Assert.DoesNotContain(":8080", scrape);
        // The balancer forwards the device port only.
        Assert.DoesNotContain(Read("haproxy", "haproxy.cfg").Split('\n'), line => !line.TrimStart().StartsWith('#') && line.Contains("8081"));
        Assert.Contains("option forwardfor", Read("haproxy", "haproxy.cfg"));
        string gateway = Read("k8s", "gateway.yaml");
        Assert.Contains("{ containerPort: 8081, name: management }", gateway);
        Assert.Contains("targetPort: management", gateway);
        Assert.Contains("{ containerPort: 8081, name: management }", Read("k8s", "silo.yaml"));
        string compose = Read("compose.yaml");
        Assert.Contains("\"127.0.0.1:8081:8081\"", compose); // published on the host's loopback only
        Assert.Contains("RateLimits__KnownProxies__0", compose);
        Assert.Contains("--Management:Urls=", Read("local", "cluster.sh"));
    }

    private static async Task<Dictionary<string, string[]>> ParseAsync(string[] files)
    {
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        foreach (string file in files)
        {
            info.ArgumentList.Add(file);
        }
        using Process process = Process.Start(info)!;
        string stdout = await process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{python} could not parse the YAML (is python3-yaml installed?): {stderr}");
        return System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string[]>>(stdout)!;
    }
}
