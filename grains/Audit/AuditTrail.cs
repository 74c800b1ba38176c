using System.Globalization;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;

namespace CmpCluster.Grains.Audit;

/// <summary>Events a host wants recorded when the trail starts (ConfigurationLoaded, KeyLoaded of the CA keys).</summary>
public interface IAuditStartupSource
{
    IEnumerable<AuditEvent> StartupEvents();
}

/// <summary>
/// This process's writer: one hash chain (<see cref="ChainId"/>: node name and start time) appended through a channel
/// by a single loop. Concurrent appends are grouped into batches, one store write per batch (group commit); every
/// caller's task completes once its batch is durable, or fails with <see cref="AuditUnavailableException"/> together
/// with the whole batch, which the store then holds none of. Signed checkpoints (<see cref="AuditCheckpoint"/>) are
/// written at start, every <see cref="AuditOptions.CheckpointInterval"/> when something changed, and at stop.
/// In a silo it starts before grains activate and stops after they are deactivated (ApplicationServices stage).
/// </summary>
public sealed class AuditTrail : IAuditTrail, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable, IDisposable
{
    private readonly IAuditStore _store;
    private readonly AuditSigningKey _key;
    private readonly AuditOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IEnumerable<IAuditStartupSource> _startupSources;
    private readonly Channel<Pending> _queue;
    private readonly string _nodeName;
    private Task? _loop;
    private ITimer? _timer;
    private int _stopped;

    // Chain head as the store has it; touched by the writer loop only.
    private long _sequence;
    private byte[] _headHash;
    private bool _resync;
    private bool _headIsCheckpoint;
    private int _lastCheckpointChains = -1;

    public AuditTrail(IAuditStore store, AuditSigningKey key, IOptions<AuditOptions> options, TimeProvider time,
        ILogger<AuditTrail> logger, IEnumerable<IAuditStartupSource> startupSources)
    {
        _store = store;
        _key = key;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _startupSources = startupSources;
        _nodeName = string.IsNullOrEmpty(_options.NodeName) ? Environment.MachineName : _options.NodeName;
        // Node identity + start time; the random suffix keeps two starts within one millisecond apart.
        ChainId = string.Create(CultureInfo.InvariantCulture,
            $"{_nodeName}/{time.GetUtcNow().UtcDateTime:yyyyMMdd'T'HHmmss.fff'Z'}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}");
        _headHash = AuditCanonical.Genesis(ChainId);
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string ChainId { get; }

    public string KeyId => _key.KeyId;

    public Task AppendAsync(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        var clean = new AuditEvent(auditEvent.Type, AuditCanonical.Limit(auditEvent.Actor ?? ""), AuditCanonical.Limit(auditEvent.Target ?? ""),
            auditEvent.Detail is null ? null : AuditCanonical.Limit(auditEvent.Detail));
        return EnqueueAsync(new Pending(clean, _time.GetUtcNow(), NewCompletion(), PendingKind.Event));
    }

    /// <summary>Writes a signed checkpoint over the current head now; completes when it is durable.</summary>
    public Task CheckpointAsync() => EnqueueAsync(new Pending(null, _time.GetUtcNow(), NewCompletion(), PendingKind.Checkpoint));

    /// <summary>Starts the writer and records the start: KeyLoaded (the audit key), the hosts' startup events and a
    /// first checkpoint. Fails (and so stops a silo's start) when they cannot be stored.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_loop is not null)
        {
            return;
        }
        _loop = Task.Run(WriteLoopAsync, CancellationToken.None);
        var started = new List<Task> { AppendAsync(new AuditEvent(AuditEventType.KeyLoaded, _nodeName, "audit-key", $"key={_key.KeyId}")) };
        started.AddRange(_startupSources.SelectMany(s => s.StartupEvents()).Select(AppendAsync));
        started.Add(CheckpointAsync());
        await Task.WhenAll(started).WaitAsync(cancellationToken);
        _timer = _time.CreateTimer(_ => _queue.Writer.TryWrite(new Pending(null, _time.GetUtcNow(), NewCompletion(), PendingKind.PeriodicCheckpoint)),
            null, _options.CheckpointInterval, _options.CheckpointInterval);
        AuditLog.Started(_logger, ChainId, _key.KeyId, _store.GetType().Name);
    }

    /// <summary>Writes the final checkpoint, lets the queue drain and stops the writer; later appends are refused.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        _timer?.Dispose();
        if (_loop is null)
        {
            _queue.Writer.TryComplete();
            return;
        }
        try
        {
            await EnqueueAsync(new Pending(null, _time.GetUtcNow(), NewCompletion(), PendingKind.FinalCheckpoint));
        }
        catch (AuditUnavailableException e)
        {
            AuditLog.FinalCheckpointFailed(_logger, e, ChainId);
        }
        _queue.Writer.TryComplete();
        await _loop.WaitAsync(cancellationToken);
        AuditLog.Stopped(_logger, ChainId, _sequence);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(AuditTrail), ServiceLifecycleStage.ApplicationServices, StartAsync, StopAsync);

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>A container disposed synchronously: stop taking appends (no final checkpoint; <see cref="StopAsync"/> writes one).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            _timer?.Dispose();
            _queue.Writer.TryComplete();
        }
    }

    private static TaskCompletionSource NewCompletion() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task EnqueueAsync(Pending pending)
    {
        try
        {
            if (!_queue.Writer.TryWrite(pending))
            {
                await _queue.Writer.WriteAsync(pending);
            }
        }
        catch (ChannelClosedException e)
        {
            throw new AuditUnavailableException("the audit trail is stopped", e);
        }
        await pending.Done.Task;
    }

    private async Task WriteLoopAsync()
    {
        ChannelReader<Pending> reader = _queue.Reader;
        var batch = new List<Pending>(_options.MaxBatchSize);
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out Pending pending))
            {
                batch.Add(pending);
            }
            if (batch.Count < _options.MaxBatchSize && _options.MaxBatchDelay > TimeSpan.Zero)
            {
                await LingerAsync(reader, batch);
            }
            await WriteBatchAsync(batch);
        }
    }

    /// <summary>Waits up to <see cref="AuditOptions.MaxBatchDelay"/> for the batch to fill.</summary>
    private async Task LingerAsync(ChannelReader<Pending> reader, List<Pending> batch)
    {
        using var deadline = new CancellationTokenSource(_options.MaxBatchDelay, _time);
        while (batch.Count < _options.MaxBatchSize)
        {
            if (reader.TryRead(out Pending pending))
            {
                batch.Add(pending);
                continue;
            }
            try
            {
                if (!await reader.WaitToReadAsync(deadline.Token))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task WriteBatchAsync(List<Pending> batch)
    {
        var records = new List<AuditRecord>(batch.Count);
        try
        {
            if (_resync)
            {
                AuditChainHead? head = await _store.ReadHeadAsync(ChainId);
                (_sequence, _headHash) = head is null ? (0L, AuditCanonical.Genesis(ChainId)) : (head.Sequence, head.Hash);
                _headIsCheckpoint = false;
                _resync = false;
                AuditLog.Resynchronized(_logger, ChainId, _sequence);
            }
            IReadOnlyList<string>? index = batch.Any(p => p.Kind != PendingKind.Event) ? await _store.ReadChainIndexAsync() : null;
            (long sequence, byte[] hash, bool isCheckpoint, int chains) = (_sequence, _headHash, _headIsCheckpoint, _lastCheckpointChains);
            foreach (Pending pending in batch)
            {
                AuditRecord record;
                if (pending.Kind == PendingKind.Event)
                {
                    AuditEvent e = pending.Event!;
                    record = new AuditRecord(ChainId, sequence + 1, pending.Time, e.Type, e.Actor, e.Target, e.Detail, hash);
                }
                else if (pending.Kind == PendingKind.PeriodicCheckpoint && isCheckpoint && chains == index!.Count)
                {
                    continue; // nothing happened since the last checkpoint
                }
                else
                {
                    chains = index!.Count;
                    var detail = new AuditCheckpoint(_key.KeyId, chains, AuditCheckpoint.ComputeIndexDigest(index), pending.Kind == PendingKind.FinalCheckpoint);
                    record = new AuditRecord(ChainId, sequence + 1, pending.Time, AuditEventType.Checkpoint, _nodeName, ChainId, detail.Format(), hash);
                    record = record with { Signature = _key.Sign(AuditCanonical.ToBeSigned(record)) };
                }
                records.Add(record);
                sequence = record.Sequence;
                hash = record.ComputeHash();
                isCheckpoint = record.Type == AuditEventType.Checkpoint;
            }
            if (records.Count > 0)
            {
                await _store.AppendAsync(records);
            }
            (_sequence, _headHash, _headIsCheckpoint, _lastCheckpointChains) = (sequence, hash, isCheckpoint, chains);
        }
        catch (Exception e)
        {
            // The store holds none of the batch, or (a write that failed after it committed) all of it: the next
            // batch starts from whatever head the store reports.
            _resync = true;
            AuditLog.WriteFailed(_logger, e, records.Count);
            var failure = new AuditUnavailableException("the audit store could not be written", e);
            foreach (Pending pending in batch)
            {
                if (pending.Kind == PendingKind.PeriodicCheckpoint)
                {
                    pending.Done.TrySetResult(); // nobody waits for it; the failure is logged above
                }
                else
                {
                    pending.Done.TrySetException(failure);
                }
            }
            return;
        }
        foreach (Pending pending in batch)
        {
            pending.Done.TrySetResult();
        }
    }

    private enum PendingKind
    {
        Event,
        Checkpoint,
        PeriodicCheckpoint,
        FinalCheckpoint,
    }

    private readonly record struct Pending(AuditEvent? Event, DateTimeOffset Time, TaskCompletionSource Done, PendingKind Kind);
}
