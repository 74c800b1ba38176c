namespace CmpCluster.LoadTests;

/// <summary>Command line of the load generator; every option has a default that runs against the single-node default.</summary>
public sealed record LoadOptions
{
    public string Url { get; init; } = "http://127.0.0.1:8080/.well-known/cmp/p/ra";
    public string Secret { get; init; } = "changeit";
    public string Reference { get; init; } = "ra";
    public string Scenario { get; init; } = "enroll";
    public int Concurrency { get; init; } = 16;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);
    public int PbmIterations { get; init; } = 500;
    public int? ServerPid { get; init; }

    public const string Usage = """
        usage: dotnet run --project loadtests -c Release -- [options]
          --url URL            CMP endpoint (default http://127.0.0.1:8080/.well-known/cmp/p/ra)
          --secret S --ref R   PBM secret and senderKID (default changeit / ra)
          --scenario NAME      enroll (ir + certConf) | enroll-implicit (ir with implicitConfirm)
          --concurrency N      virtual devices, each running transactions back to back (closed model; default 16)
          --duration SEC       measured seconds after the warm-up (default 20)
          --warmup SEC         seconds run but not counted (default 3)
          --pbm-iterations N   PBM iteration count of the requests (default 500, as OpenSSL)
          --server-pid PID     report the server's CPU per transaction (Linux /proc)
        """;

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--url" => options with { Url = value },
                "--secret" => options with { Secret = value },
                "--ref" => options with { Reference = value },
                "--scenario" => options with { Scenario = value is "enroll" or "enroll-implicit" ? value : throw new ArgumentException($"unknown scenario {value}") },
                "--concurrency" => options with { Concurrency = int.Parse(value) },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(double.Parse(value)) },
                "--warmup" => options with { Warmup = TimeSpan.FromSeconds(double.Parse(value)) },
                "--pbm-iterations" => options with { PbmIterations = int.Parse(value) },
                "--server-pid" => options with { ServerPid = int.Parse(value) },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
            i++;
        }
        return options;
    }
}
