using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The real node (<c>CmpCluster.Silo.dll</c>: Orleans silo + HTTP gateway) as a child process, the way an
/// operator runs it: five free loopback ports per start (HTTP for devices, HTTP for management, silo, gateway, CMP over
/// TCP), its own data directory,
/// stdout/stderr captured. It can be SIGKILLed and started again on the same data directory.
/// </summary>
/// <remarks>
/// Ports are picked afresh on every start: two Orleans silos on the same port silently join each other, and
/// a port a killed process held may still be in use by a straggler. The service and cluster IDs are the
/// product defaults (<c>cmpcluster</c>), so <see cref="ConnectClientAsync"/> can reach the gateway port.
/// </remarks>
public sealed class NodeProcess : IAsyncDisposable
{
    public const string ServiceId = "cmpcluster";
    public const string ClusterId = "cmpcluster";
    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(60);
    private const int MaxOutputChars = 512 * 1024;

    /// <summary>Every node this test process started and has not disposed: killed if the test host exits first.</summary>
    private static readonly ConcurrentDictionary<NodeProcess, byte> Live = new();

    /// <summary>How many nodes may be starting at the same time in this test process.</summary>
    private static readonly SemaphoreSlim StartGate = new(Math.Max(2, Environment.ProcessorCount / 2));

    private readonly object _outputLock = new();
    private readonly StringBuilder _output = new();
    private readonly bool _ownsDataDirectory;
    private readonly string _workingDirectory;
    private Process? _process;
    private int _starts;
    private int _startOffset;

    static NodeProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (NodeProcess node in Live.Keys)
        {
            node.KillNoWait();
        }
    };

    private NodeProcess(string dataDirectory, bool ownsDataDirectory, IReadOnlyList<string> arguments)
    {
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        _workingDirectory = Path.GetDirectoryName(dataDirectory)!;
        Arguments = arguments;
    }

    /// <summary>
    /// Leave the node's Orleans client port as the product sets it (single node: none). Without this argument the test
    /// node opens one at <see cref="GatewayPort"/>, so tests can connect an Orleans client.
    /// </summary>
    public const string DefaultClientPort = "--test:default-client-port";

    /// <summary>Extra command-line arguments passed on every start (configuration overrides such as extra aliases).</summary>
    public IReadOnlyList<string> Arguments { get; }

    public string DataDirectory { get; }

    public string PkiDirectory => Path.Combine(DataDirectory, "pki");
    public string RootCaPath => Path.Combine(PkiDirectory, "root-ca.pem");
    public string IssuingCaPath => Path.Combine(PkiDirectory, "issuing-ca.pem");
    public string CmpSignerPath => Path.Combine(PkiDirectory, "cmp-signer.pem");
    public string CaChainPath => Path.Combine(PkiDirectory, "ca-chain.pem");

    /// <summary>Ports of the current (or last) start.</summary>
    public int HttpPort { get; private set; }
    public int SiloPort { get; private set; }
    public int GatewayPort { get; private set; }

    /// <summary>CMP over TCP (<c>--Tcp:Port</c>); nothing listens there when the arguments disable TCP.</summary>
    public int TcpPort { get; private set; }

    /// <summary>The management listener (<c>--Management:Urls</c>): admin API, OpenAPI, /metrics, dashboard.</summary>
    public int ManagementPort { get; private set; }

    public Uri ManagementAddress => new($"http://127.0.0.1:{ManagementPort}/");

    /// <summary><c>127.0.0.1:PORT</c>, as <c>openssl cmp -server</c> wants it.</summary>
    public string Server => $"127.0.0.1:{HttpPort}";

    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}/");

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Everything the node wrote to stdout and stderr, across all starts (the oldest part is cut past 512 KiB).</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The last part of <see cref="Output"/>, sized for an assertion message.</summary>
    public string OutputTail(int chars = 12_000)
    {
        string all = Output;
        return all.Length <= chars ? all : "…" + all[^chars..];
    }

    /// <summary>Describes this node and its recent output; append to assertion messages.</summary>
    public string Diagnostics() =>
        $"node http={HttpPort} management={ManagementPort} silo={SiloPort} gateway={GatewayPort} tcp={TcpPort} data={DataDirectory} running={IsRunning}\n--- node output ---\n{OutputTail()}";

    /// <summary>
    /// Starts a node and waits until <c>GET /health</c> answers. With <paramref name="dataDirectory"/> null a fresh
    /// temporary directory is created and deleted on dispose; a given directory is left in place.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(IEnumerable<string>? arguments = null, string? dataDirectory = null, TimeSpan? timeout = null)
    {
        bool owns = dataDirectory is null;
        if (dataDirectory is null)
        {
            string root = Path.Combine(Path.GetTempPath(), "cmpcluster-e2e", Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(root);
            dataDirectory = Path.Combine(root, "data");
        }
        dataDirectory = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(dataDirectory)!);
        var node = new NodeProcess(dataDirectory, owns, (arguments ?? []).ToArray());
        try
        {
            await node.StartAsync(timeout);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the node process (again) on the same data directory with fresh ports, and waits until it is healthy.
    /// A start that loses a port race (another process bound one of the ports first) is retried with new ports.
    /// </summary>
    public async Task StartAsync(TimeSpan? timeout = null)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("the node is already running");
        }
        // xunit starts every class fixture at once; a node start is ~3 s of CPU (JIT, Orleans), so starting a dozen
        // together on a small machine would run each past its health timeout. Starts queue here; the wait does not count.
        await StartGate.WaitAsync();
        try
        {
            for (int attempt = 1; ; attempt++)
            {
                Process process = Launch();
                try
                {
                    await WaitForHealthAsync(process, timeout ?? DefaultStartTimeout);
                    Append($"=== start #{_starts}: healthy (pid {process.Id})");
                    return;
                }
                catch (InvalidOperationException) when (attempt < 3 && process.HasExited
                    && OutputOfCurrentStart().Contains("address already in use", StringComparison.OrdinalIgnoreCase))
                {
                    Append("=== a port was taken: starting again with new ports");
                }
            }
        }
        finally
        {
            StartGate.Release();
        }
    }

    private Process Launch()
    {
        _process?.Dispose();
        _process = null;

        (string dll, string contentRoot) = NodeLaunch.LocateSilo();
        int[] ports = NodeLaunch.FreeLoopbackPorts(5);
        (HttpPort, SiloPort, GatewayPort, TcpPort, ManagementPort) = (ports[0], ports[1], ports[2], ports[3], ports[4]);
        int start = Interlocked.Increment(ref _starts);

        var info = new ProcessStartInfo(NodeLaunch.DotnetHost())
        {
            WorkingDirectory = _workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        info.ArgumentList.Add(dll);
        foreach (string argument in new[]
        {
            "--contentRoot", contentRoot,
            "--urls", $"http://127.0.0.1:{HttpPort}",
            $"--Management:Urls=http://127.0.0.1:{ManagementPort}",
            $"--Node:DataDirectory={DataDirectory}",
            $"--Node:SiloPort={SiloPort}",
            // CMP over TCP defaults to 8829: every node gets its own port so parallel nodes never collide.
            $"--Tcp:Port={TcpPort}",
            // The "Now listening on" line is how a start recognizes its own HTTP port (see ListensOnHttpPort).
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        }.Concat(Arguments.Contains(DefaultClientPort) ? [] : [$"--Node:GatewayPort={GatewayPort}"])
         .Concat(Arguments.Where(a => a != DefaultClientPort)))
        {
            info.ArgumentList.Add(argument);
        }
        // Hermetic: nothing from the test runner's environment may reconfigure the node.
        foreach (string key in info.Environment.Keys.ToArray())
        {
            if (key.StartsWith("Node__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Cmp__", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("Pki__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Orleans__", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("Logging__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Tcp__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("Management__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("RateLimits__", StringComparison.OrdinalIgnoreCase)
                || key is "DOTNET_URLS" or "DOTNET_ENVIRONMENT" or "DOTNET_CONTENTROOT")
            {
                info.Environment.Remove(key);
            }
        }

        lock (_outputLock)
        {
            _startOffset = _output.Length;
        }
        Append($"=== start #{start}: {info.FileName} {string.Join(' ', info.ArgumentList)}");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Append(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Append("[stderr] " + e.Data); };
        if (!process.Start())
        {
            throw new InvalidOperationException("could not start " + info.FileName);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Live.TryAdd(this, 0);
        return process;
    }

    /// <summary>
    /// Graceful stop: SIGTERM (what an orchestrator sends), then waits for the process to exit; SIGKILL after
    /// <paramref name="timeout"/> (default 30 s). Returns whether it exited on its own.
    /// </summary>
    public async Task<bool> StopAsync(TimeSpan? timeout = null)
    {
        Process? process = _process;
        if (process is null || process.HasExited)
        {
            return true;
        }
        using (Process kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", process.Id.ToString() }, UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }
        using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(wait.Token);
            Append($"=== stopped (exit code {process.ExitCode})");
            return true;
        }
        catch (OperationCanceledException)
        {
            Append("=== did not stop after SIGTERM: killing");
            await KillAsync();
            return false;
        }
    }

    /// <summary>SIGKILL (on Linux <see cref="Process.Kill(bool)"/> sends SIGKILL) to the whole process tree, then waits for exit.</summary>
    public async Task KillAsync()
    {
        Process? process = _process;
        if (process is null)
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
            // Exited between the check and the kill.
        }
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(wait.Token);
        Append($"=== killed (exit code {process.ExitCode})");
    }

    /// <summary>SIGKILL, then start again on the same data directory (new ports).</summary>
    public async Task KillAndRestartAsync(TimeSpan? timeout = null)
    {
        await KillAsync();
        await StartAsync(timeout);
    }

    /// <summary>A client of the device listener (CMP, CRL, OCSP, health).</summary>
    public HttpClient CreateHttpClient(TimeSpan? timeout = null) => new()
    {
        BaseAddress = BaseAddress,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
    };

    /// <summary>A client of the management listener (admin API, OpenAPI, /metrics, dashboard).</summary>
    public HttpClient CreateManagementClient(TimeSpan? timeout = null) => new()
    {
        BaseAddress = ManagementAddress,
        Timeout = timeout ?? TimeSpan.FromSeconds(30),
    };

    /// <summary>An Orleans client connected to this node's gateway port (current start).</summary>
    public Task<OrleansTestClient> ConnectClientAsync(TimeSpan? timeout = null) =>
        OrleansTestClient.ConnectAsync(GatewayPort, ServiceId, ClusterId, timeout);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (Exception e)
        {
            Append("=== kill on dispose failed: " + e.Message);
        }
        Live.TryRemove(this, out _);
        _process?.Dispose();
        _process = null;
        if (_ownsDataDirectory)
        {
            TempDirectory.DeleteQuietly(_workingDirectory);
        }
    }

    private void KillNoWait()
    {
        try
        {
            if (_process is { HasExited: false } p)
            {
                p.Kill(entireProcessTree: true);
            }
        }
        catch (Exception)
        {
            // Best effort while the test host exits.
        }
    }

    private async Task WaitForHealthAsync(Process process, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(3) };
        string? lastProblem = null;
        while (stopwatch.Elapsed < timeout)
        {
            if (process.HasExited)
            {
                // Let the asynchronous readers drain what the process wrote before it died.
                process.WaitForExit();
                throw new InvalidOperationException($"the node exited with code {process.ExitCode} before it was healthy\n{Diagnostics()}");
            }
            try
            {
                using HttpResponseMessage response = await http.GetAsync("health");
                string body = await response.Content.ReadAsStringAsync();
                // The listening line proves the answer came from this process, not from a stranger on a reused port.
                if (response.StatusCode == HttpStatusCode.OK && body.Trim() == "ok" && ListensOnHttpPort())
                {
                    return;
                }
                lastProblem = $"GET /health answered {(int)response.StatusCode}: {body}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                lastProblem = e.Message;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(150));
        }
        KillNoWait();
        throw new TimeoutException($"the node was not healthy after {timeout.TotalSeconds:0} s (last: {lastProblem})\n{Diagnostics()}");
    }

    private bool ListensOnHttpPort() =>
        OutputOfCurrentStart().Contains($"Now listening on: http://127.0.0.1:{HttpPort}", StringComparison.Ordinal);

    private string OutputOfCurrentStart()
    {
        lock (_outputLock)
        {
            int from = Math.Min(_startOffset, _output.Length);
            return _output.ToString(from, _output.Length - from);
        }
    }

    private void Append(string line)
    {
        lock (_outputLock)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > MaxOutputChars)
            {
                int cut = _output.Length - MaxOutputChars / 2;
                _output.Remove(0, cut);
                _startOffset = Math.Max(0, _startOffset - cut);
            }
        }
    }
}
