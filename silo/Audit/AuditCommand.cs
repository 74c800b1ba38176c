using CmpCluster.Gateway.Hosting;
using CmpCluster.Grains.Audit;
using StackExchange.Redis;

namespace CmpCluster.Silo.Audit;

/// <summary>
/// <c>audit verify</c>: reads the audit trail from the single node's store (<c>--data</c>, default <c>./data</c>), from
/// Redis (<c>--redis</c>) or from an exported JSON Lines file (<c>--file</c>), checks it with grains/Audit/AuditVerifier.cs
/// and prints <c>OK: N records, M chains, K checkpoints</c> (exit 0) or the first bad record with the reason (exit 1).
/// Usage errors and unreadable sources exit 2. Runs before any host is built: it never starts a node.
/// </summary>
public static class AuditCommand
{
    private const int PageSize = 1000;

    public const string Usage = """
        usage: audit verify [--data <dir>] [--file <exported.jsonl>] [--redis <connection> [--service-id <id>]]
                            [--public-key <audit.pub.pem>]...
          --data        data directory of a single node (default ./data): reads <dir>/audit.db
          --file        an export of GET /api/v1/audit (JSON Lines) instead of the store
          --redis       a cluster's Redis (StackExchange.Redis syntax); --service-id as Node:ServiceId (default cmpcluster)
          --public-key  a trusted audit public key (repeatable); default <dir>/audit/audit.pub.pem when it exists
        """;

    public static bool Handles(string[] args) => args.Length > 0 && args[0] == "audit";

    public static int Run(string[] args, TextWriter output) => RunAsync(args, output).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        if (!TryParse(args, out Arguments? parsed, out string? problem))
        {
            await output.WriteLineAsync(problem + "\n" + Usage);
            return 2;
        }
        try
        {
            var keys = new AuditVerificationKeys();
            foreach (string path in parsed.PublicKeys)
            {
                keys.AddPem(await File.ReadAllTextAsync(path));
            }
            if (keys.Count == 0)
            {
                await output.WriteLineAsync("no trusted audit public key: give --public-key <audit.pub.pem>");
                return 2;
            }
            var verifier = new AuditVerifier(keys);
            bool ok = parsed.File is not null
                ? await VerifyFileAsync(parsed.File, verifier)
                : await VerifyStoreAsync(parsed, verifier, output);
            foreach (string note in verifier.Notes)
            {
                await output.WriteLineAsync("note: " + note);
            }
            if (!ok)
            {
                await output.WriteLineAsync($"FAILED: {verifier.Error}");
                return 1;
            }
            await output.WriteLineAsync($"OK: {verifier.Records} records, {verifier.Chains} chains, {verifier.Checkpoints} checkpoints");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
            or System.Security.Cryptography.CryptographicException or RedisException or System.Data.Common.DbException)
        {
            await output.WriteLineAsync("cannot read the audit trail: " + e.Message);
            return 2;
        }
    }

    private static async Task<bool> VerifyFileAsync(string path, AuditVerifier verifier)
    {
        using StreamReader reader = File.OpenText(path);
        long line = 0;
        while (await reader.ReadLineAsync() is { } text)
        {
            line++;
            if (text.Length == 0)
            {
                continue;
            }
            AuditRecord record;
            byte[]? claimedHash;
            try
            {
                record = AuditJson.Parse(text, out claimedHash);
            }
            catch (FormatException e)
            {
                return verifier.Fail($"line {line} is not an audit record: {e.Message}");
            }
            if (!verifier.Add(record, claimedHash))
            {
                return false;
            }
        }
        return verifier.Complete();
    }

    private static async Task<bool> VerifyStoreAsync(Arguments arguments, AuditVerifier verifier, TextWriter output)
    {
        IAuditStore store;
        if (arguments.Redis is not null)
        {
            ConfigurationOptions options = new ClusterConnection(arguments.Redis, "", arguments.ServiceId).RedisOptions();
            options.AbortOnConnectFail = true;
            options.ConnectRetry = 3;
            store = new RedisAuditStore(options, arguments.ServiceId);
        }
        else
        {
            string database = SqliteAuditStore.PathIn(arguments.Data);
            if (!File.Exists(database))
            {
                throw new IOException($"no audit store at {database}");
            }
            store = new SqliteAuditStore(database, createSchema: false);
        }
        await output.WriteLineAsync("reading " + (arguments.Redis is null ? SqliteAuditStore.PathIn(arguments.Data) : "redis " + arguments.ServiceId + "/audit"));
        try
        {
            // The index first: chains a running node enters while we read come after it, and only its prefix is checked.
            IReadOnlyList<string> index = await store.ReadChainIndexAsync();
            string? cursor = null;
            while (true)
            {
                AuditPage page;
                try
                {
                    page = await store.ReadAsync(cursor, PageSize);
                }
                catch (FormatException e)
                {
                    return verifier.Fail("unreadable record: " + e.Message);
                }
                foreach (AuditRecord record in page.Records)
                {
                    if (!verifier.Add(record))
                    {
                        return false;
                    }
                }
                if (!page.More)
                {
                    break;
                }
                cursor = page.NextCursor;
            }
            return verifier.Complete(index);
        }
        finally
        {
            switch (store)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    private static bool TryParse(string[] args, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Arguments? parsed, out string? problem)
    {
        parsed = null;
        problem = null;
        if (args.Length < 2 || args[1] != "verify")
        {
            problem = "unknown audit command";
            return false;
        }
        var result = new Arguments();
        for (int i = 2; i < args.Length; i++)
        {
            string option = args[i];
            if (i + 1 >= args.Length)
            {
                problem = $"{option} needs a value";
                return false;
            }
            string value = args[++i];
            switch (option)
            {
                case "--data": result.Data = value; break;
                case "--file": result.File = value; break;
                case "--redis": result.Redis = value; break;
                case "--service-id": result.ServiceId = value; break;
                case "--public-key": result.PublicKeys.Add(value); break;
                default:
                    problem = $"unknown option {option}";
                    return false;
            }
        }
        if (result.File is not null && result.Redis is not null)
        {
            problem = "--file and --redis exclude each other";
            return false;
        }
        string defaultKey = Path.Combine(result.Data, AuditSigningKey.FolderName, AuditSigningKey.PublicKeyFileName);
        if (result.PublicKeys.Count == 0 && File.Exists(defaultKey))
        {
            result.PublicKeys.Add(defaultKey);
        }
        parsed = result;
        return true;
    }

    private sealed class Arguments
    {
        public string Data { get; set; } = "data";
        public string? File { get; set; }
        public string? Redis { get; set; }
        public string ServiceId { get; set; } = "cmpcluster";
        public List<string> PublicKeys { get; } = [];
    }
}
