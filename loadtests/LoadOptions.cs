using System.Globalization;

namespace CmpCluster.LoadTests;

/// <summary>How requests are protected in the enroll scenarios.</summary>
public enum Protection
{
    /// <summary>PasswordBasedMac with the RA secret on the RA alias.</summary>
    Pbm = 0,
    /// <summary>Signed by the device's current certificate on the client alias (EndEntityCertificate module).</summary>
    Signature = 1,
}

/// <summary>Command line of the load generator; every option has a default that runs against the single-node default.</summary>
public sealed record LoadOptions
{
    public static readonly string[] Scenarios = ["enroll", "enroll-implicit", "renew", "revoke", "device-lifecycle"];

    public string BaseUrl { get; init; } = "http://127.0.0.1:8080";
    public string RaAlias { get; init; } = "ra";
    public string ClientAlias { get; init; } = "client";
    /// <summary>An explicit endpoint for the RA alias (<c>--url</c>, kept from the first generator); wins over base URL + alias.</summary>
    public string? Url { get; init; }
    public string Secret { get; init; } = "changeit";
    public string Reference { get; init; } = "ra";
    public string Scenario { get; init; } = "enroll";
    public Protection Protection { get; init; } = Protection.Pbm;
    /// <summary>Weights of the device-lifecycle mix, by scenario (enroll, renew, revoke).</summary>
    public IReadOnlyDictionary<string, int> Mix { get; init; } = new Dictionary<string, int> { ["enroll"] = 70, ["renew"] = 25, ["revoke"] = 5 };
    public int Concurrency { get; init; } = 16;
    /// <summary>Open model when set: transactions started per second (after the ramp).</summary>
    public double? Rate { get; init; }
    public TimeSpan Ramp { get; init; } = TimeSpan.Zero;
    public int MaxInFlight { get; init; } = 64;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Stop after this many measured transactions instead of after <see cref="Duration"/>.</summary>
    public long? Count { get; init; }
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);
    public int PbmIterations { get; init; } = 500;
    /// <summary>Certificates issued before the run for rr (revoke and the lifecycle mix); null: sized from the run.</summary>
    public int? Pool { get; init; }
    /// <summary>Processes whose CPU time is summed into the server's CPU per transaction (a node, or every process of a cluster).</summary>
    public IReadOnlyList<int> ServerPids { get; init; } = [];
    /// <summary>Write one CSV row per <see cref="SampleEvery"/> (throughput, latency percentiles, errors, drops, server CPU).</summary>
    public string? SamplesPath { get; init; }
    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);
    public string? JsonPath { get; init; }
    public string? MarkdownPath { get; init; }
    public bool Progress { get; init; } = true;
    /// <summary>A new connection per request (servers that close after each answer, such as the <c>openssl cmp</c> mock server).</summary>
    public bool CloseConnections { get; init; }
    /// <summary>Local address every connection is made from (a per-address rate limit then sees this generator as that client).</summary>
    public System.Net.IPAddress? SourceAddress { get; init; }

    public bool OpenModel => Rate is not null;

    /// <summary>Virtual devices: one per closed-model worker, or one per possible in-flight transaction in the open model.</summary>
    public int Devices => OpenModel ? MaxInFlight : Concurrency;

    public string RaUrl => Url ?? $"{BaseUrl.TrimEnd('/')}/.well-known/cmp/p/{RaAlias}";
    public string ClientUrl => $"{BaseUrl.TrimEnd('/')}/.well-known/cmp/p/{ClientAlias}";

    public const string Usage = """
        usage: dotnet run --project loadtests -c Release -- [options]
          --scenario NAME      enroll (ir + certConf) | enroll-implicit (ir with implicitConfirm) | renew (kur + certConf,
                               signed by the previous certificate) | revoke (rr) | device-lifecycle (a mix, see --mix)
          --base-url URL       node address (default http://127.0.0.1:8080); endpoints are URL/.well-known/cmp/p/ALIAS
          --ra-alias A         RA alias, PBM-protected (default ra)
          --client-alias A     client-mode alias with the EndEntityCertificate module (default client)
          --url URL            explicit RA endpoint (overrides --base-url and --ra-alias for RA requests)
          --secret S --ref R   PBM secret and senderKID of the RA (default changeit / ra)
          --protection P       enroll: pbm (default, on the RA alias) | signature (ir + certConf on the client alias,
                               signed by the device's current certificate; the device enrolls once on the RA first)
          --mix W              device-lifecycle weights (default enroll=70,renew=25,revoke=5)
          --concurrency N      closed model: N virtual devices, each running transactions back to back (default 16)
          --rate R             open model: R transactions started per second, whatever the answers take
          --ramp SEC           open model: rate rises linearly from 0 to R over SEC seconds from the start (default 0)
          --max-in-flight N    open model: at most N transactions in flight; an arrival beyond is dropped (default 64)
          --duration SEC       measured seconds after the warm-up (default 20)
          --count N            stop after N measured transactions (open model: N measured arrivals, run or dropped)
                               instead of after --duration
          --warmup SEC         seconds run but not counted (default 3)
          --pbm-iterations N   PBM iteration count of the requests (default 500, as OpenSSL)
          --pool N             certificates issued before the run for rr (revoke, device-lifecycle; default sized from
                               the run); the run stops early when they run out
          --server-pid PID[,PID...]  report the server's CPU per transaction (Linux /proc), summed over the PIDs (a
                               cluster: silos, gateways, redis-server, haproxy); repeatable
          --samples FILE.csv   write one row per window (see --sample-every) during the whole run, warm-up included
                               (phase warmup: the window began in it): unix time, elapsed s, window s, phase,
                               transactions, tx/s, errors, 429s, dropped, p50/p90/p99/max ms of the transactions
                               completed in the window, server CPU ms/tx of the window (with --server-pid)
          --sample-every SEC   window of --samples (default 10)
          --json FILE          write the report as JSON
          --markdown FILE      write the Markdown report to FILE too (stdout always gets it)
          --no-progress        no per-second progress lines on stderr
          --close-connections  one connection per request (for servers that close after each answer, e.g. openssl cmp -port)
          --source-address IP  connect from this local address (e.g. 127.0.0.2: another client to a per-address rate
                               limit); HTTP 429 answers are counted apart as rate-limited, not as errors
        exit code: 0 without errors, 1 with errors or rate-limited requests, 2 on a bad command line
        """;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--no-progress" or "--close-connections")
            {
                options = args[i] == "--no-progress" ? options with { Progress = false } : options with { CloseConnections = true };
                continue;
            }
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--base-url" => options with { BaseUrl = value },
                "--ra-alias" => options with { RaAlias = value },
                "--client-alias" => options with { ClientAlias = value },
                "--url" => options with { Url = value },
                "--secret" => options with { Secret = value },
                "--ref" => options with { Reference = value },
                "--scenario" => options with { Scenario = Scenarios.Contains(value) ? value : throw new ArgumentException($"unknown scenario {value}") },
                "--protection" => options with { Protection = ParseProtection(value) },
                "--mix" => options with { Mix = ParseMix(value) },
                "--concurrency" => options with { Concurrency = Positive(args[i], int.Parse(value, CultureInfo.InvariantCulture)) },
                "--rate" => options with { Rate = Positive(args[i], Number(value)) },
                "--ramp" => options with { Ramp = Seconds(value) },
                "--max-in-flight" => options with { MaxInFlight = Positive(args[i], int.Parse(value, CultureInfo.InvariantCulture)) },
                "--duration" => options with { Duration = Seconds(value) },
                "--count" => options with { Count = Positive(args[i], long.Parse(value, CultureInfo.InvariantCulture)) },
                "--warmup" => options with { Warmup = Seconds(value) },
                "--pbm-iterations" => options with { PbmIterations = Positive(args[i], int.Parse(value, CultureInfo.InvariantCulture)) },
                "--pool" => options with { Pool = Positive(args[i], int.Parse(value, CultureInfo.InvariantCulture)) },
                "--server-pid" => options with { ServerPids = [.. options.ServerPids, .. ParsePids(value)] },
                "--samples" => options with { SamplesPath = value },
                "--sample-every" => options with { SampleEvery = Seconds(value) > TimeSpan.Zero ? Seconds(value) : throw new ArgumentException("--sample-every must be positive") },
                "--json" => options with { JsonPath = value },
                "--markdown" => options with { MarkdownPath = value },
                "--source-address" => options with { SourceAddress = System.Net.IPAddress.TryParse(value, out System.Net.IPAddress? ip) ? ip : throw new ArgumentException($"--source-address {value} is not an IP address") },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
            i++;
        }
        if (options.Protection == Protection.Signature && options.Scenario != "enroll")
        {
            throw new ArgumentException("--protection signature applies to the enroll scenario only");
        }
        return options;
    }

    private static Protection ParseProtection(string value) => value switch
    {
        "pbm" => Protection.Pbm,
        "signature" => Protection.Signature,
        _ => throw new ArgumentException($"unknown protection {value} (pbm or signature)"),
    };

    /// <summary><c>enroll=70,renew=25,revoke=5</c>: non-negative integer weights of the single-device scenarios.</summary>
    private static Dictionary<string, int> ParseMix(string value)
    {
        var mix = new Dictionary<string, int>();
        foreach (string part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] pair = part.Split('=', 2);
            if (pair.Length != 2 || pair[0] is not ("enroll" or "enroll-implicit" or "renew" or "revoke")
                || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int weight))
            {
                throw new ArgumentException($"bad --mix entry {part} (NAME=WEIGHT with NAME enroll, enroll-implicit, renew or revoke)");
            }
            mix[pair[0]] = weight;
        }
        return mix.Values.Sum() > 0 ? mix : throw new ArgumentException("--mix needs a positive weight");
    }

    private static IEnumerable<int> ParsePids(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pid => int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new ArgumentException($"bad --server-pid {pid}"))
            .ToArray() is { Length: > 0 } pids ? pids : throw new ArgumentException("--server-pid needs a PID");

    private static double Number(string value) => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static TimeSpan Seconds(string value) =>
        Number(value) is >= 0 and var seconds ? TimeSpan.FromSeconds(seconds) : throw new ArgumentException($"negative seconds {value}");

    private static T Positive<T>(string option, T value) where T : System.Numerics.INumber<T> =>
        value > T.Zero ? value : throw new ArgumentException($"{option} must be positive");
}
