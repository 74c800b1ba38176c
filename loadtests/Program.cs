using CmpCluster.LoadTests;

// Drives real CMP transactions against a gateway URL and reports throughput, latency percentiles and CPU.
LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}
LoadReport report = await new LoadRun(options).RunAsync();
Console.WriteLine(report.ToMarkdown());
return report.Errors.Count == 0 ? 0 : 1;
