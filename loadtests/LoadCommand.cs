namespace CmpCluster.LoadTests;

/// <summary>The command line as a method, so tests run exactly what the executable runs.</summary>
public static class LoadCommand
{
    /// <summary>Runs the generator; 0 without errors, 1 with errors or rate-limited requests (or a run that could not start),
    /// 2 on a bad command line.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter diagnostics)
    {
        if (args is ["--help"] or ["-h"])
        {
            await output.WriteLineAsync(LoadOptions.Usage);
            return 0;
        }
        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await diagnostics.WriteLineAsync(e.Message);
            await diagnostics.WriteLineAsync(LoadOptions.Usage);
            return 2;
        }
        LoadReport report = await new LoadRun(options, diagnostics).RunAsync();
        string markdown = report.ToMarkdown();
        await output.WriteLineAsync(markdown);
        if (options.MarkdownPath is { } markdownPath)
        {
            await File.WriteAllTextAsync(markdownPath, markdown);
        }
        if (options.JsonPath is { } jsonPath)
        {
            await File.WriteAllTextAsync(jsonPath, report.ToJson());
        }
        return report.ErrorCount == 0 && report.RateLimited == 0 && report.Transactions > 0 ? 0 : 1;
    }
}
