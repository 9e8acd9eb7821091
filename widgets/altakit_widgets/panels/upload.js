// ChunkedUpload's view (altakit_widgets/panels/upload.py): sends the picked file to the kernel in slices.
// Each slice (file.slice().arrayBuffer(), never the whole file) goes as one custom message with a binary
// buffer; the next is read only after the kernel's "ack" for this one (back-pressure), so no message
// nears the server's 10 MiB WebSocket cap and the page holds one slice at a time. A new pick or Cancel
// ends the upload in flight ("cancel": the kernel drops what arrived).

function render({ model, el }) {
  const box = document.createElement('div');
  box.className = 'altakit-upload';
  const input = document.createElement('input');
  input.type = 'file';
  input.className = 'altakit-upload-input';
  input.accept = model.get('accept');
  input.style.display = 'none';
  const pick = document.createElement('button');
  pick.className = 'jupyter-button widget-upload altakit-upload-pick';
  pick.type = 'button';
  pick.textContent = model.get('label');
  const cancel = document.createElement('button');
  cancel.className = 'jupyter-button altakit-upload-cancel';
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  cancel.style.display = 'none';
  box.append(input, pick, cancel);
  el.appendChild(box);

  let current = null; // {id, cancelled, wake}

  function received(msg) {
    if (current && msg && msg.id === current.id && current.wake) {
      const wake = current.wake;
      current.wake = null;
      wake(msg);
    }
  }
  model.on('msg:custom', received);

  function stop() {
    if (current) {
      const job = current;
      job.cancelled = true;
      model.send({ type: 'cancel', id: job.id });
      if (job.wake) {
        job.wake({ type: 'cancelled', id: job.id });
      }
      current = null;
    }
    cancel.style.display = 'none';
  }

  async function send(file) {
    stop();
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const job = { id, cancelled: false, wake: null };
    current = job;
    const reply = () => new Promise(resolve => (job.wake = resolve));
    const step = model.get('chunk_bytes');
    cancel.style.display = '';
    let answer = reply();
    model.send({ type: 'start', id, name: file.name, size: file.size });
    let msg = await answer;
    let offset = 0;
    while (msg.type === 'ack' && !job.cancelled && offset < file.size) {
      const buffer = await file.slice(offset, offset + step).arrayBuffer();
      if (job.cancelled) {
        return;
      }
      answer = reply();
      model.send({ type: 'chunk', id, offset }, undefined, [buffer]);
      offset += buffer.byteLength;
      msg = await answer;
    }
    if (msg.type === 'ack' && !job.cancelled) {
      answer = reply();
      model.send({ type: 'end', id });
      await answer;
    }
    if (current === job) {
      current = null;
      cancel.style.display = 'none';
    }
  }

  pick.addEventListener('click', () => input.click());
  cancel.addEventListener('click', stop);
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    input.value = ''; // picking the same file again is a new upload
    if (file) {
      send(file);
    }
  });
  return () => {
    stop();
    model.off('msg:custom', received);
  };
}

export default { render };
