using System.Diagnostics;
using System.Net;
using System.Text;
using CmpCluster.Tests.EndToEnd;

namespace CmpCluster.Tests.Cluster;

/// <summary>
/// One process of the test cluster (a silo, a gateway, redis-server or haproxy) as a child process: output captured,
/// SIGKILL-able, restartable with fresh arguments. Readiness is whatever <see cref="WaitReadyAsync"/> is told to poll.
/// </summary>
public sealed class ClusterProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 256 * 1024;
    private readonly StringBuilder _output = new();
    private Process? _process;

    public ClusterProcess(string name) => Name = name;

    public string Name { get; }

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => _process is { HasExited: false };

    public string OutputTail(int chars = 6000)
    {
        lock (_output)
        {
            string all = _output.ToString();
            return all.Length <= chars ? all : "…" + all[^chars..];
        }
    }

    public void Start(string fileName, IEnumerable<string> arguments, string workingDirectory)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException(Name + " is already running");
        }
        _process?.Dispose();
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        // Hermetic, as NodeProcess: the runner's environment must not reconfigure the cluster.
        foreach (string key in info.Environment.Keys.Where(k => k.Contains("__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToArray())
        {
            info.Environment.Remove(key);
        }
        Append($"=== start: {fileName} {string.Join(' ', info.ArgumentList)}");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Append(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Append("[stderr] " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        ClusterProcesses.Track(this);
    }

    /// <summary>Polls <paramref name="url"/> until it answers 200 (or <paramref name="probe"/> says ready).</summary>
    public async Task WaitReadyAsync(Uri? url, TimeSpan timeout, Func<Task<bool>>? probe = null)
    {
        var stopwatch = Stopwatch.StartNew();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(4) };
        string last = "";
        while (stopwatch.Elapsed < timeout)
        {
            if (_process is not { HasExited: false })
            {
                _process?.WaitForExit();
                throw new InvalidOperationException($"{Name} exited before it was ready\n{OutputTail()}");
            }
            try
            {
                if (probe is not null ? await probe() : (await http.GetAsync(url)).StatusCode == HttpStatusCode.OK)
                {
                    Append($"=== ready after {stopwatch.Elapsed.TotalSeconds:0.0} s");
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                last = e.Message;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} not ready after {timeout.TotalSeconds:0} s ({last})\n{OutputTail()}");
    }

    /// <summary>
    /// SIGTERM, as an operator's or Kubernetes' graceful stop: the host shuts down (Orleans leaves the cluster, hands its
    /// activations back, the audit trail writes its last checkpoint); SIGKILL if it has not exited within <paramref name="grace"/>.
    /// Returns whether it exited on its own.
    /// </summary>
    public async Task<bool> StopGracefullyAsync(TimeSpan grace)
    {
        if (_process is not { HasExited: false } process)
        {
            return true;
        }
        using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(wait.Token);
            Append($"=== stopped gracefully (exit code {process.ExitCode})");
            return true;
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
            return false;
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (_process is not { } process)
        {
            return;
        }
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await process.WaitForExitAsync(wait.Token);
        Append("=== killed");
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        _process = null;
        ClusterProcesses.Untrack(this);
    }

    private void Append(string line)
    {
        lock (_output)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > MaxOutputChars)
            {
                _output.Remove(0, _output.Length - MaxOutputChars / 2);
            }
        }
    }
}

/// <summary>Kills whatever the tests started if the test host exits first (only our own children, by handle).</summary>
internal static class ClusterProcesses
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ClusterProcess, byte> Live = new();

    static ClusterProcesses() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (ClusterProcess process in Live.Keys)
        {
            process.KillAsync().Wait(TimeSpan.FromSeconds(2));
        }
    };

    public static void Track(ClusterProcess process) => Live.TryAdd(process, 0);

    public static void Untrack(ClusterProcess process) => Live.TryRemove(process, out _);

    /// <summary>The gateway as built for this run (next to the silo in the test output, else gateway/bin).</summary>
    public static string LocateGateway()
    {
        (string siloDll, _) = NodeLaunch.LocateSilo();
        string beside = Path.Combine(Path.GetDirectoryName(siloDll)!, "CmpCluster.Gateway.dll");
        if (File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json")))
        {
            return beside;
        }
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Debug";
        string built = Path.Combine(NodeLaunch.RepositoryRoot() ?? ".", "gateway", "bin", configuration, "net10.0", "CmpCluster.Gateway.dll");
        return File.Exists(built) ? built : throw new FileNotFoundException("CmpCluster.Gateway.dll not found", built);
    }

    public static string? Which(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/bin", "/sbin"]))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
