using CmpCluster.Grains.Internal;
using CmpCluster.Grains.Storage;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// Deadlines without a reminder per transaction: the transaction store indexes each state's due time in the write that
/// sets it (<see cref="IStateLifetime"/>), and this one grain per cluster, woken every <see cref="CmpOptions.ConfirmCheckPeriod"/>
/// by a durable reminder, reads what is due and asks each transaction to act. A transaction that closed before its
/// deadline removed its entry in the same write, so nothing is woken for it. Missed ticks (a restart) are caught up at the
/// next one: entries stay until their transaction acted.
/// </summary>
public sealed partial class DeadlineSweeperGrain(
    IServiceProvider services,
    IOptions<CmpOptions> options,
    TimeProvider time,
    ILogger<DeadlineSweeperGrain> logger) : Grain, IDeadlineSweeperGrain, IRemindable
{
    public const string ReminderName = "sweep";

    /// <summary>Transactions asked per store query, and how many of them run at once.</summary>
    private const int Batch = 256;
    private const int Parallel = 16;

    /// <summary>Bounds one tick, so a backlog after a long outage is worked off over several ticks, not in one call.</summary>
    private const int MaxPerSweep = 20_000;

    /// <summary>
    /// Expired states deleted per store statement. The single node's store runs one statement at a time: a delete of a
    /// thousand rows held every grain write back for tens of milliseconds (a p99 spike at each tick in the soak), small
    /// ones let the writes that queued meanwhile go in between.
    /// </summary>
    private const int PruneChunk = 128;

    public async Task<SweepResult> SweepAsync()
    {
        DateTimeOffset now = time.GetUtcNow();
        int due = 0, failed = 0, pruned = 0;
        // Transactions act on their confirm and wait deadlines; certificates awaiting confirmation carry a deadline of their
        // own in the main store, which revokes them when no stored transaction could (grains/Certificates/CertificateGrain.cs).
        GrainType certificates = GrainFactory.GetGrain<ICertificateGrain>("-").GetGrainId().Type;
        foreach ((string provider, Func<GrainId, Task> act) in new (string, Func<GrainId, Task>)[]
        {
            (GrainNames.Transactions, id => GrainFactory.GetGrain<ITransactionControlGrain>(id.Key.ToString()!).ExpireIfDueAsync()),
            (GrainNames.Storage, id => id.Type == certificates
                ? GrainFactory.GetGrain<ICertificateGrain>(id.Key.ToString()!).ExpireIfDueAsync()
                : throw new InvalidOperationException($"{id} has a due time and no deadline handler")),
        })
        {
            // A store without lifetime support indexes nothing.
            if (services.GetKeyedService<IStateLifetimeIndex>(provider) is { } index)
            {
                (int d, int f) = await ActOnDueAsync(index, act, now);
                (due, failed) = (due + d, failed + f);
                pruned += await PruneAsync(index, now);
            }
        }
        if (due > 0 || pruned > 0)
        {
            LogSwept(logger, due, failed, pruned);
        }
        return new SweepResult(due, failed, pruned);
    }

    private async Task<(int Due, int Failed)> ActOnDueAsync(IStateLifetimeIndex index, Func<GrainId, Task> act, DateTimeOffset now)
    {
        int due = 0, failed = 0;
        var seen = new HashSet<GrainId>();
        while (due < MaxPerSweep)
        {
            // A grain that failed to act stays due; it is tried again at the next tick, not in a loop now.
            GrainId[] batch = (await index.DueAsync(now, Batch)).Where(seen.Add).ToArray();
            if (batch.Length == 0)
            {
                break;
            }
            foreach (GrainId[] chunk in batch.Chunk(Parallel))
            {
                Task[] calls = chunk.Select(async id => await act(id)).ToArray();
                try
                {
                    await Task.WhenAll(calls);
                }
                catch (Exception) when (calls.Any(c => c.IsFaulted))
                {
                    foreach (Task call in calls.Where(c => c.IsFaulted))
                    {
                        failed++;
                        LogExpireFailed(logger, call.Exception!.GetBaseException());
                    }
                }
            }
            due += batch.Length;
        }
        return (due, failed);
    }

    private static async Task<int> PruneAsync(IStateLifetimeIndex index, DateTimeOffset now)
    {
        int pruned = 0;
        while (pruned < MaxPerSweep)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            int removed = await index.PruneExpiredAsync(now, PruneChunk);
            if (removed == 0)
            {
                break;
            }
            pruned += removed;
            // Paced: the store belongs to the grains' own writes three quarters of the time, so a minute's worth of
            // expired transactions is deleted over a few seconds instead of in one burst that every write waits behind.
            await Task.Delay(System.Diagnostics.Stopwatch.GetElapsedTime(started) * 3);
        }
        return pruned;
    }

    public async Task EnsureScheduledAsync()
    {
        TimeSpan period = options.Value.ConfirmCheckPeriod;
        await this.RegisterOrUpdateReminder(ReminderName, period, period);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ReminderName)
        {
            await SweepAsync();
        }
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "deadline sweep: {Due} transaction(s) or certificate(s) due, {Failed} failed, {Pruned} expired state(s) deleted")]
    private static partial void LogSwept(ILogger logger, int due, int failed, int pruned);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "deadline sweep: a transaction or certificate could not act on its deadline; retried at the next tick")]
    private static partial void LogExpireFailed(ILogger logger, Exception exception);
}

/// <summary>
/// Per silo process: whether a transaction here has made sure the sweeper's durable reminder exists. The first transaction
/// that persists on a silo asks the sweeper once (a grain may register a reminder; start-up code, outside any grain, may
/// not). The reminder is durable, so after a restart it fires even before any new transaction arrives.
/// </summary>
public sealed class DeadlineSweeperKickoff
{
    private int _claimed;

    public bool TryClaim() => Interlocked.Exchange(ref _claimed, 1) == 0;

    public void Release() => Volatile.Write(ref _claimed, 0);
}
