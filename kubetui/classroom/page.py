"""The teacher's dashboard as a web page: the heatmap, who is stuck, medians, and the actions.

One static page; its script long-polls ``/class/v1/dashboard?wait=SEQ`` (the
teacher's cookie is its credential), so a learner's check shows as soon as the
server has it.
"""

DASHBOARD_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>kubetui class</title>
<style>
 body{font-family:monospace;background:#111;color:#ddd;margin:1em}
 table{border-collapse:collapse} td,th{border:1px solid #333;padding:2px 6px;font-size:12px}
 th.col{writing-mode:vertical-rl;transform:rotate(180deg)}
 .done{background:#1f6f3a}.working{background:#8a6d1f}.stuck{background:#8b1e1e}
 button,input,select{font-family:monospace}
</style></head><body>
<h2>kubetui class <span id="paused"></span></h2>
<div><select id="to"><option value="">everyone</option></select>
<select id="kind"><option>message</option><option>hint</option></select>
<input id="text" size="50" placeholder="text"><button id="send">send</button>
<button id="pause">pause class</button></div>
<div>reset <select id="rwho"></select> to <select id="rstep"></select><button id="reset">reset lab</button>
 &nbsp; drill for everyone <input id="drill" size="16" placeholder="drill id"><input id="seed" size="6" placeholder="seed">
 <button id="startdrill">start drill</button> <span id="said"></span></div>
<div><a href="/class/v1/gradebook.csv">gradebook CSV</a> <a href="/class/v1/gradebook.xml">JUnit</a></div>
<h3>heatmap (cell: hints used; * solution)</h3><table id="heat"></table>
<h3>stuck longest</h3><table id="stuck"></table>
<p id="seq"></p>
<script>
let seq=-1, paused=false;
function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
function draw(d){
  paused=d.paused; document.getElementById("paused").textContent=d.paused?"(paused)":"";
  document.getElementById("pause").textContent=d.paused?"resume class":"pause class";
  let h="<tr><th>learner</th>"+d.columns.map(c=>"<th class=col>"+esc(c)+"</th>").join("")+
    d.drills.map(x=>"<th class=col>drill "+esc(x)+"</th>").join("")+"</tr>";
  h+="<tr><td>median s</td>"+d.columns.map(c=>"<td>"+(d.medianSeconds[c]??"")+"</td>").join("")+"</tr>";
  const to=document.getElementById("to"), chosen=to.value;
  to.innerHTML='<option value="">everyone</option>';
  for(const r of d.learners){
    to.innerHTML+="<option>"+esc(r.learner)+"</option>";
    h+="<tr><td>"+esc(r.learner)+"</td>"+d.columns.map(c=>{const x=r.cells[c];
      return x?"<td class="+x.state+" title="+x.state+">"+(x.hints||"")+(x.solution?"*":"")+"</td>":"<td></td>"}).join("")+
      d.drills.map(x=>"<td>"+(r.drillScores[x]??"")+"</td>").join("")+"</tr>";
  }
  to.value=chosen;
  const rwho=document.getElementById("rwho"), rw=rwho.value, rstep=document.getElementById("rstep"), rs=rstep.value;
  rwho.innerHTML=d.learners.map(r=>"<option>"+esc(r.learner)+"</option>").join("");
  rstep.innerHTML=d.columns.map(c=>"<option>"+esc(c)+"</option>").join("");
  if(rw)rwho.value=rw; if(rs)rstep.value=rs;
  document.getElementById("heat").innerHTML=h;
  document.getElementById("stuck").innerHTML="<tr><th>learner</th><th>step</th><th>seconds</th><th>failing check</th></tr>"+
    d.stuck.map(s=>"<tr><td>"+esc(s.learner)+"</td><td>"+esc(s.lesson+"/"+s.step)+"</td><td>"+s.seconds+"</td><td>"+esc(s.failingCheck)+"</td></tr>").join("");
  document.getElementById("seq").textContent="events: "+d.seq;
  document.body.dataset.seq=d.seq;
}
async function poll(){
  for(;;){
    try{const r=await fetch("/class/v1/dashboard?wait="+seq+"&timeout=20");
      if(r.ok){const d=await r.json(); seq=d.seq; draw(d);} else {await new Promise(f=>setTimeout(f,2000));}}
    catch(e){await new Promise(f=>setTimeout(f,2000));}
  }
}
async function post(path,body){
  const r=await fetch(path,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify(body)});
  const j=await r.json().catch(()=>({}));
  document.getElementById("said").textContent=r.ok?"":(j.message||("error "+r.status));
  return j;
}
document.getElementById("reset").onclick=async()=>{
  const [lesson,step]=document.getElementById("rstep").value.split("/");
  const who=document.getElementById("rwho").value;
  if(!who||!lesson)return;
  const j=await post("/class/v1/learners/"+encodeURIComponent(who)+"/reset",{lesson:lesson,step:step});
  if(j.learner)document.getElementById("said").textContent="sent: reset "+who+" to "+lesson+"/"+step+
    ((j.also||[]).length?" ("+j.also.join("; ")+")":"");
};
document.getElementById("startdrill").onclick=async()=>{
  const s=document.getElementById("seed").value.trim();
  const j=await post("/class/v1/drills",{drill:document.getElementById("drill").value.trim(),seed:s?parseInt(s,10):null});
  // hosted mode: one line per learner (started on their own cluster, or why not)
  if(j.seed!==undefined)document.getElementById("said").textContent="drill "+j.drill+" started for everyone, seed "+
    j.seed+((j.also||[]).length?": "+j.also.join("; "):"");
};
document.getElementById("send").onclick=()=>post("/class/v1/messages",{to:document.getElementById("to").value,
  kind:document.getElementById("kind").value,text:document.getElementById("text").value});
document.getElementById("pause").onclick=()=>post("/class/v1/pause",{paused:!paused});
poll();
</script></body></html>
"""
